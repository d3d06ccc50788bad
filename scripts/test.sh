#!/usr/bin/env bash
# Usage: scripts/test.sh [cargo test args...] — the one command that runs the whole test suite
# against every S3 server the tests know (SSEC_TEST_SERVERS, default "garage seaweedfs
# ministack"), each over plain http and then over TLS (a front with a CA made for the run),
# with the aws CLI peer, an isolated XDG/AWS environment and a real Secret Service
# (gnome-keyring in a private D-Bus session). Always tears it all down.
#
# At the end it prints how each server does SSE-C (scripts/server-matrix.sh; also written to
# SSEC_TEST_MATRIX_OUT if set), the tests skipped for a server's limitation, and each pass.
#
# Without arguments, the garage pass over http runs everything, unit tests, the window suite
# and a short fault campaign included; the other passes run the suites that talk to a server.
# With arguments, every pass runs `cargo test ARGS`. The first server's passes and the other
# servers' run side by side (SSEC_TEST_STREAMS=1: one after another).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
servers=${SSEC_TEST_SERVERS:-garage seaweedfs ministack}
modes=${SSEC_TEST_MODES:-http tls}

for tool in dbus-run-session gnome-keyring-daemon python3 openssl socat; do
  command -v "$tool" >/dev/null || {
    echo "test.sh: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
for s in $servers; do
  [ -x "$here/$s-up.sh" ] || { echo "test.sh: unknown server '$s' (no scripts/$s-up.sh)" >&2; exit 2; }
done

export GARAGE_BIN
GARAGE_BIN=$("$here/ensure-garage.sh")
aws=$("$here/ensure-awscli.sh")
case " $servers " in *" seaweedfs "*|*" ministack "*) "$here/ensure-servers.sh" >/dev/null ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssec-test.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_child
  for d in "$tmp"/server-*; do [ -d "$d" ] && "$here/server-down.sh" "$d" || true; done
  rm -rf "$tmp"
  exit "$rc"
}
stop_child() {  # stop every test process group (dbus, keyring, cargo, test binaries)
  local g
  [ -f "$tmp/groups" ] || return 0
  for g in $(cat "$tmp/groups"); do
    kill -TERM -- "-$g" 2>/dev/null || kill -TERM "$g" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'stop_child; exit 130' INT
trap 'stop_child; exit 143' TERM
trap 'stop_child; exit 129' HUP

# shellcheck source=scripts/lib/isolate.sh
. "$here/lib/isolate.sh"
isolate_desktop "$tmp"
isolate_aws "$tmp"
export SSEC_TEST_AWS="$aws"
# Tests that a server cannot pass say why here (tests/common skip_on); listed at the end.
export SSEC_TEST_SKIP_LOG="$tmp/skipped"
cd "$root"

# The suites that talk to a server (every tests/*.rs but the window's, the fault campaign's,
# which runs its own private Garage in the garage pass, and the parsers' hostile input).
server_suites=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  case $name in ui|chaos|hostile) ;; *) server_suites+=(--test "$name") ;; esac
done

# run_cargo LOG ENV_FILE ARGS...: cargo test with ENV_FILE's variables, in its own process
# group (recorded, so a signal stops every run), in a D-Bus session with an unlocked
# gnome-keyring; output to LOG ("-": this terminal). In the background plus `wait`, so a
# SIGTERM/SIGINT to this script is handled at once (bash defers traps while a foreground
# command runs).
run_cargo() {
  local log=$1; shift
  local script='. "$1"; shift; printf %s test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec cargo test --no-fail-fast "$@"'
  if [ "$log" = - ]; then
    setsid dbus-run-session -- sh -c "$script" sh "$@" &
  else
    setsid dbus-run-session -- sh -c "$script" sh "$@" >>"$log" 2>&1 &
  fi
  local pid=$!
  echo "$pid" >>"$tmp/groups"
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# run_server SERVER LOG: every pass of one server (its modes), then the matrix probe; one
# line per pass in $tmp/summary-SERVER, the failed passes in $tmp/failed-SERVER.
run_server() {
  local server=$1 log=$2 dir="$tmp/server-$1"
  "$here/$server-up.sh" "$dir"
  for mode in $modes; do
    local t0=$SECONDS args rc=0
    if [ ${#cargo_args[@]} -gt 0 ]; then args=("${cargo_args[@]}")
    elif [ "$server/$mode" = garage/http ]; then args=()
    else args=("${server_suites[@]}"); fi
    echo "=== tests on $server over $mode: cargo test ${args[*]}" >&2
    local pass_env="$dir/pass-$mode.env" plain
    cp "$dir/env" "$pass_env"
    plain=$(sed -n 's/^export SSEC_TEST_ENDPOINT=//p' "$dir/env")
    # Each pass its own desktop (its own keyring file) and AWS files: passes run side by side.
    mkdir -p "$dir/desk-$mode"
    {
      echo "export SSEC_TEST_PLAIN_ENDPOINT=$plain"
      echo ". '$here/lib/isolate.sh'; isolate_desktop '$dir/desk-$mode'; isolate_aws '$dir/desk-$mode'"
    } >>"$pass_env"
    if [ "$mode" = tls ]; then
      local https
      https=$("$here/tls-front.sh" "$dir/tls" "${plain##*:}")
      {
        echo "export SSEC_TEST_ENDPOINT=$https"
        echo "export SSEC_TEST_TLS=1"
        echo "export AWS_CA_BUNDLE=$dir/tls/ca.pem"
      } >>"$pass_env"
    fi
    run_cargo "$log" "$pass_env" "${args[@]}" || rc=$?
    [ "$mode" = tls ] && "$here/server-down.sh" "$dir/tls" >/dev/null 2>&1 || true
    echo "$server/$mode: $([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - t0)) s" \
      >>"$tmp/summary-$server"
    [ $rc = 0 ] || echo "$server/$mode" >>"$tmp/failed-$server"
  done
  # How this server does SSE-C, asked with the aws CLI: docs/PROVIDERS.md's matrix.
  mkdir -p "$tmp/matrix"
  "$here/server-matrix.sh" probe "$dir/env" >"$tmp/matrix/$server.tsv" 2>"$tmp/matrix/$server.err" ||
    echo "=== the matrix probe of $server failed: $(tail -3 "$tmp/matrix/$server.err")" >&2
  "$here/server-down.sh" "$dir"
}

# Two streams side by side (SSEC_TEST_STREAMS=1: one after another): Garage's passes, which
# hold the unit and window suites and the fault campaign, in this terminal; the other
# servers' in a log printed when they end. Each pass uses about one core.
cargo_args=("$@")
: >"$tmp/groups"
cargo test --no-run "$@" >&2
first=${servers%% *}
rest=$(echo "$servers" | cut -s -d' ' -f2-)
if [ "${SSEC_TEST_STREAMS:-2}" -gt 1 ] && [ -n "$rest" ]; then
  ( for s in $rest; do run_server "$s" "$tmp/stream.log"; done ) 2>>"$tmp/stream.log" &
  stream=$!
  echo "$stream" >>"$tmp/groups"
  run_server "$first" -
  # A stream that stopped before its passes ended (a server that would not start) fails.
  if ! wait "$stream"; then echo "stream: $rest" >>"$tmp/failed-${rest%% *}"; fi
  echo "=== the passes of: $rest" >&2
  cat "$tmp/stream.log" >&2
else
  for s in $servers; do run_server "$s" -; done
fi
failed=()
for s in $servers; do
  if [ -f "$tmp/failed-$s" ]; then failed+=($(cat "$tmp/failed-$s")); fi
done
echo "=== SSE-C as each server does it (scripts/server-matrix.sh; docs/PROVIDERS.md):" >&2
"$here/server-matrix.sh" render "$tmp"/matrix/*.tsv | tee "${SSEC_TEST_MATRIX_OUT:-/dev/null}" >&2
if [ -s "$SSEC_TEST_SKIP_LOG" ]; then
  echo "=== skipped, for a limitation of the server (docs/PROVIDERS.md):" >&2
  sort "$SSEC_TEST_SKIP_LOG" | uniq -c | sed 's/^/    /' >&2
fi
for s in $servers; do
  if [ -f "$tmp/summary-$s" ]; then sed 's/^/=== /' "$tmp/summary-$s" >&2; fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== FAILED: ${failed[*]}" >&2
  exit 1
fi
