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

# Fresh per-run desktop dirs: a stale login.keyring in an old XDG_DATA_HOME makes every
# keyring call fail with "prompt dismissed" (see TESTING.md).
export XDG_RUNTIME_DIR="$tmp/runtime" XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" \
  XDG_CONFIG_HOME="$tmp/config"
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
chmod 700 "$XDG_RUNTIME_DIR"

# Keep the user's ~/.aws and AWS_* settings out of the tests.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_CA_BUNDLE \
  AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
export AWS_CONFIG_FILE="$tmp/aws-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/aws-credentials"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

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
