#!/usr/bin/env bash
# Usage: scripts/test.sh [cargo test args...] — the one command that runs the whole test suite:
# a fresh Garage S3 server, the aws CLI peer, an isolated XDG/AWS environment and a real
# Secret Service (gnome-keyring in a private D-Bus session). Always tears it all down.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

for tool in dbus-run-session gnome-keyring-daemon python3 openssl; do
  command -v "$tool" >/dev/null || {
    echo "test.sh: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done

export GARAGE_BIN
GARAGE_BIN=$("$here/ensure-garage.sh")
aws=$("$here/ensure-awscli.sh")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssec-test.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  "$here/garage-down.sh" "$tmp/garage" || true
  rm -rf "$tmp"
  exit "$rc"
}
child=
stop_child() {  # stop the whole test process group (dbus, keyring, cargo, test binaries)
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'stop_child; exit 130' INT
trap 'stop_child; exit 143' TERM
trap 'stop_child; exit 129' HUP

# shellcheck source=scripts/lib/isolate.sh
. "$here/lib/isolate.sh"
isolate_desktop "$tmp"
isolate_aws "$tmp"

"$here/garage-up.sh" "$tmp/garage"
# shellcheck source=/dev/null
. "$tmp/garage/env"
export SSEC_TEST_AWS="$aws"

cd "$root"
# Run in the background in its own process group and `wait`, so a SIGTERM/SIGINT to this
# script is handled at once (bash defers traps while a foreground command runs) and the
# trap can stop every process of the run.
setsid dbus-run-session -- sh -c \
  'printf %s test-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec cargo test "$@"' \
  sh "$@" &
child=$!
rc=0
wait "$child" || rc=$?
child=
exit "$rc"
