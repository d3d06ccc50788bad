#!/usr/bin/env bash
# Usage: scripts/chaos.sh [FAULTS] [MINUTES] — the long fault campaign (tests/chaos.rs) against
# private Garages behind fault relays, through scripts/test.sh (which starts the keyring).
# Default 2000 faults within 120 minutes, in SSEC_CHAOS_STREAMS streams (default 2, each
# with its own Garage, relay and home). Writes the campaign's table into
# docs/RELIABILITY.md between its markers, and exits non-zero on any invariant violation.
# SSEC_CHAOS_SEED replays a campaign (the seed is printed at its start).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
faults=${1:-2000}
minutes=${2:-120}
report=$(mktemp)
bin=$(mktemp -d)
trap 'rm -rf "$report" "$bin"' EXIT
# The campaign runs a copy of the app, so that a build during it cannot swap the program.
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
(cd "$root" && cargo test --no-run --test chaos >&2)
cp "$CARGO_TARGET_DIR/debug/ssec-manager" "$bin/ssec-manager"
export SSEC_TEST_BIN="$bin/ssec-manager"
rc=0
SSEC_CHAOS_STREAMS=${SSEC_CHAOS_STREAMS:-2} \
SSEC_TEST_SERVERS=garage SSEC_TEST_MODES=http SSEC_CHAOS_FAULTS=$faults \
  SSEC_CHAOS_MINUTES=$minutes SSEC_CHAOS_REPORT=$report \
  "$here/test.sh" --test chaos -- --nocapture || rc=$?
if [ -s "$report" ]; then
  doc="$root/docs/RELIABILITY.md"
  python3 - "$doc" "$report" "$(date -u +%Y-%m-%d)" <<'PY'
import sys
doc, report, day = sys.argv[1:4]
text = open(doc).read()
start, end = "<!-- campaign -->", "<!-- /campaign -->"
body = f"{start}\nLatest long campaign ({day}, `scripts/chaos.sh`):\n\n{open(report).read().strip()}\n{end}"
i, j = text.index(start), text.index(end) + len(end)
open(doc, "w").write(text[:i] + body + text[j:])
PY
  echo "chaos.sh: the table is in docs/RELIABILITY.md" >&2
fi
exit "$rc"
