#!/usr/bin/env bash
# Usage: bench/window-load.sh [OBJECTS] — the window with OBJECTS (default 100000) registered
# objects: first frame, settle time, memory, frame times of the Audit and Objects views.
# Builds and runs benches/window_load.rs (`cargo bench`) inside a
# private D-Bus session with gnome-keyring, in fresh desktop directories.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ssec-manager/target}
export WINDOW_BENCH_OBJECTS=${1:-100000}
for tool in dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ssec-window-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/lib/isolate.sh
. "$root/scripts/lib/isolate.sh"
isolate_desktop "$work"
cd "$root"
cargo bench --bench window_load --no-run >&2
echo "ssec-manager window benchmark: $WINDOW_BENCH_OBJECTS objects"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
dbus-run-session -- sh -c \
  'printf %s bench-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec cargo bench --bench window_load -q' 2>&1 |
  grep -v "Failed to set fd limit"
