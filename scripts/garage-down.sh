#!/usr/bin/env bash
# Usage: garage-down.sh DIR — stops the Garage test server started by garage-up.sh DIR
# (SIGTERM, then SIGKILL after 10 s). Also stops a garage a test restarted with the same
# DIR/garage.toml. Idempotent: does nothing if nothing is running. Leaves DIR in place.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
dir=$(cd "$1" && pwd)
config="$dir/garage.toml"

# Our garage processes: the recorded pid (if it is still a garage of this DIR) plus any
# process whose command line names this DIR's config file.
pids=()
for p in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
  case "$cmd" in
    *garage*" $config "*server*) pids+=("${p#/proc/}") ;;
  esac
done
[ ${#pids[@]} -gt 0 ] || { rm -f "$dir/garage.pid"; exit 0; }

# Alive = has a command line (a zombie has none and needs no more killing).
alive_p() { [ -n "$(tr -d '\0' 2>/dev/null <"/proc/$1/cmdline")" ]; }

kill -TERM "${pids[@]}" 2>/dev/null || true
for _ in $(seq 1 100); do
  alive=()
  for p in "${pids[@]}"; do if alive_p "$p"; then alive+=("$p"); fi; done
  [ ${#alive[@]} -gt 0 ] || break
  sleep 0.1
done
if [ ${#alive[@]} -gt 0 ]; then
  echo "garage-down: garage (pid ${alive[*]}) ignored SIGTERM, killing" >&2
  kill -KILL "${alive[@]}" 2>/dev/null || true
fi
rm -f "$dir/garage.pid"
echo "garage down: stopped pid ${pids[*]}" >&2
