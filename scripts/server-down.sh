#!/usr/bin/env bash
# Usage: server-down.sh DIR — stops the test server started in DIR by garage-up.sh,
# seaweedfs-up.sh or ministack-up.sh (and a TLS front started by tls-front.sh in DIR).
# Idempotent.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$1" ] || exit 0
dir=$(cd "$1" && pwd)
stop_group() {  # the process group of a setsid'd pid: TERM, then KILL after 10 s
  local pid=$1 name=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "$name down: stopped pid $pid" >&2
}
if [ -f "$dir/tls.pid" ]; then stop_group "$(cat "$dir/tls.pid")" "tls front"; rm -f "$dir/tls.pid"; fi
if [ -f "$dir/garage.toml" ]; then exec "$here/garage-down.sh" "$dir"; fi
if [ -f "$dir/server.pid" ]; then stop_group "$(cat "$dir/server.pid")" "server"; rm -f "$dir/server.pid"; fi
