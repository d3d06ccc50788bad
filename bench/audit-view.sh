#!/usr/bin/env bash
# Usage: bench/audit-view.sh [OBJECTS] — frame time of the Audit view with OBJECTS (default
# 100000) registered objects: builds and runs benches/audit_view.rs (`cargo bench`) inside a
# private D-Bus session with gnome-keyring, in fresh desktop directories.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ssec-manager/target}
export AUDIT_BENCH_OBJECTS=${1:-100000}
for tool in dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' not found; run scripts/install-deps.sh first" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ssec-audit-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=scripts/lib/isolate.sh
. "$root/scripts/lib/isolate.sh"
isolate_desktop "$work"
cd "$root"
cargo bench --bench audit_view --no-run >&2
echo "ssec-manager Audit view benchmark"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
dbus-run-session -- sh -c \
  'printf %s bench-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec cargo bench --bench audit_view -q' 2>&1 |
  grep -v "Failed to set fd limit"
