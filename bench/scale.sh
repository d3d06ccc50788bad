#!/usr/bin/env bash
# Usage: bench/scale.sh [N] — a registry of N (default 1000000) synthetic objects under four
# keys, put into the real schema (benches/scale_fill.rs), then the time and peak memory of the
# release binary's `key list --json`, `audit`, `audit --json` and `objects --json` on it;
# `verify` of a sample of 1,000 objects a local Garage really holds, beside the N; and the
# real window under Xvfb (time to its window, resident memory settled and at peak), beside
# the same window on an empty home. Runs in a private D-Bus session with gnome-keyring, in
# fresh desktop directories.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ssec-manager/target}
export SCALE_OBJECTS=${1:-1000000}
for tool in dbus-run-session gnome-keyring-daemon /usr/bin/time python3 Xvfb xdotool; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ssec-scale-bench.XXXXXX")
# SCALE_KEEP=1 keeps the filled home (and says where) to measure more by hand.
cleanup() {
  [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
  "$root/scripts/garage-down.sh" "$work/garage" >/dev/null 2>&1 || true
  if [ -n "${SCALE_KEEP:-}" ]; then echo "kept: $work (home: $work/home)" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# shellcheck source=scripts/lib/isolate.sh
. "$root/scripts/lib/isolate.sh"
isolate_desktop "$work"
isolate_aws "$work"
cd "$root"
cargo build --release >&2
cargo bench --bench scale_fill --no-run >&2
export BIN="$CARGO_TARGET_DIR/release/ssec-manager" SCALE_HOME="$work/home" WORK="$work"
GARAGE_BIN=$("$root/scripts/ensure-garage.sh")
export GARAGE_BIN
"$root/scripts/garage-up.sh" "$work/garage" >&2
# shellcheck source=/dev/null
. "$work/garage/env"
Xvfb :95 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
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

# The synthetic objects are on no server: their pending rows become failed ones, or verify
# and the window would first ask the (absent) server about each.
python3 -c "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(\"UPDATE objects SET state = \x27failed\x27 WHERE state = \x27pending\x27\"); db.commit()" "$SCALE_HOME/registry.sqlite3"
s key generate sample >/dev/null 2>&1
s connection add g --endpoint "$SSEC_TEST_ENDPOINT" --region garage --path-style >/dev/null
mkdir -p "$WORK/sample"
for i in $(seq -w 1 1000); do head -c 1024 /dev/urandom >"$WORK/sample/o$i"; done
s upload "$WORK/sample" "s3://$SSEC_TEST_BUCKET/sample/" --key sample --connection g --quiet >/dev/null
measure "verify (1000 of them on Garage)" verify --key sample --quiet

# The real window (software rendering on Xvfb): time until its window is mapped, then its
# resident memory once settled (10 s) and at its peak.
window() {
  local name=$1 home=$2
  local t0 t1 pid
  t0=$(date +%s.%N)
  DISPLAY=:95 "$BIN" --home "$home" >"$WORK/window.log" 2>&1 &
  pid=$!
  DISPLAY=:95 timeout 60 xdotool search --sync --name "SSE-C Manager" >/dev/null
  t1=$(date +%s.%N)
  sleep 10
  awk -v n="$name" -v w="$(awk -v a="$t0" -v b="$t1" "BEGIN { print b - a }")" \
    "/^VmRSS/ { r = \$2 } /^VmHWM/ { p = \$2 } END { printf \"%-16s window in %.2f s, %7.1f MB resident settled, %7.1f MB peak\\n\", n, w, r / 1024, p / 1024 }" \
    "/proc/$pid/status"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}
window "window (empty)" "$WORK/empty-home"
window "window" "$SCALE_HOME"
'
