#!/usr/bin/env bash
# Usage: bench/scale.sh [N] — a registry of N (default 1000000) synthetic objects under four
# keys, put into the real schema (benches/scale_fill.rs), then the time and peak memory of the
# release binary's `key list --json`, `audit --json` and `objects --json` on it. Runs in a
# private D-Bus session with gnome-keyring, in fresh desktop directories.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ssec-manager/target}
export SCALE_OBJECTS=${1:-1000000}
for tool in dbus-run-session gnome-keyring-daemon /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ssec-scale-bench.XXXXXX")
# SCALE_KEEP=1 keeps the filled home (and says where) to measure more by hand.
if [ -n "${SCALE_KEEP:-}" ]; then
  trap 'echo "kept: $work (home: $work/home)" >&2' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
# shellcheck source=scripts/lib/isolate.sh
. "$root/scripts/lib/isolate.sh"
isolate_desktop "$work"
isolate_aws "$work"
cd "$root"
cargo build --release >&2
cargo bench --bench scale_fill --no-run >&2
export BIN="$CARGO_TARGET_DIR/release/ssec-manager" SCALE_HOME="$work/home"
echo "ssec-manager scale benchmark: $SCALE_OBJECTS objects"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
dbus-run-session -- bash -euo pipefail -c '
printf %s bench-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
s() { "$BIN" --home "$SCALE_HOME" "$@"; }
for k in photos backups archive music; do s key generate "$k" >/dev/null; done
s connection add s3 --endpoint http://127.0.0.1:9 --region us-east-1 --path-style >/dev/null
cargo bench --bench scale_fill -q 2>&1 | grep -v "Failed to set fd limit"
echo "registry: $(du -h "$SCALE_HOME/registry.sqlite3" | cut -f1)"
# The first open after the fill applies pending schema steps; not what is measured.
s key list >/dev/null
measure() {
  local name=$1; shift
  # An audit with findings exits non-zero on purpose: its status is printed, not fatal.
  local rc=0
  /usr/bin/time -f "%e %M" -o "$SCALE_HOME/.time" "$BIN" --home "$SCALE_HOME" "$@" >"$SCALE_HOME/.out" || rc=$?
  read -r secs kb < <(tail -1 "$SCALE_HOME/.time")
  awk -v n="$name" -v s="$secs" -v k="$kb" -v o="$(stat -c %s "$SCALE_HOME/.out")" -v rc="$rc" \
    "BEGIN { printf \"%-16s %7.2f s  %7.1f MB peak  %s bytes out  (exit %s)\\n\", n, s, k / 1024, o, rc }"
}
measure "key list" key list --json
measure "audit" audit
measure "audit --json" audit --json
measure "objects --json" objects --json
'
