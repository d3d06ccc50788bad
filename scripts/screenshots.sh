#!/usr/bin/env bash
# Takes screenshots of every screen of the real binary under Xvfb, against a real Garage and
# a real gnome-keyring, into assets/screenshots/ (shown in the README). Usage:
#   scripts/screenshots.sh            # uses target/release (CARGO_TARGET_DIR) or SSEC_BIN
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
bin=${SSEC_BIN:-${CARGO_TARGET_DIR:-$CACHE/target}/release/ssec-manager}
[ -x "$bin" ] || { echo "screenshots.sh: $bin missing; run cargo build --release (or set SSEC_BIN)" >&2; exit 1; }
out="${SHOT_OUT:-$root/assets/screenshots}"
mkdir -p "$out"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssec-shots.XXXXXX")
cleanup() {
  [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
  "$here/garage-down.sh" "$tmp/garage" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

export XDG_RUNTIME_DIR="$tmp/runtime" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" \
  XDG_CACHE_HOME="$tmp/cache" HOME="$tmp/userhome"
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$HOME/Downloads"
chmod 700 "$XDG_RUNTIME_DIR"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$here/garage-up.sh" "$tmp/garage" >/dev/null
# shellcheck source=/dev/null
. "$tmp/garage/env"

Xvfb :97 -screen 0 "${SHOT_SIZE:-1280x800}x24" -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
export DISPLAY=:97 BIN="$bin" OUT="$out" TMP="$tmp"
sleep 1

dbus-run-session -- bash -euo pipefail -c '
printf %s shots | gnome-keyring-daemon --unlock --components=secrets >/dev/null
H=$TMP/home
s() { "$BIN" --home "$H" "$@"; }
s connection add garage --endpoint "$SSEC_TEST_ENDPOINT" --region garage --path-style >/dev/null
s key generate photos-2026 2>/dev/null >/dev/null
s key generate backups 2>/dev/null >/dev/null
openssl rand -base64 32 > "$TMP/legacy.key"
s key import legacy-aws-cli "$TMP/legacy.key" >/dev/null
mkdir -p "$TMP/files/2026/summer"
for f in beach cliffs harbour; do head -c $((200000 + RANDOM * 10)) /dev/urandom > "$TMP/files/2026/summer/$f.jpg"; done
head -c 3000000 /dev/urandom > "$TMP/files/tax-return-2025.pdf"
s upload "$TMP/files/2026" "s3://$SSEC_TEST_BUCKET/photos/" --key photos-2026 --quiet >/dev/null
s upload "$TMP/files/tax-return-2025.pdf" "s3://$SSEC_TEST_BUCKET/tax-return-2025.pdf" --key backups --quiet >/dev/null
s key export backups --out "$TMP/backups.key" >/dev/null
head -c 1500000000 /dev/zero > "$TMP/files/vm-image.qcow2"

# Open the window with a file to upload: the upload dialog comes up.
"$BIN" --home "$H" --upload "$TMP/files/vm-image.qcow2" >"$TMP/app.log" 2>&1 &
app=$!
W=$(xdotool search --sync --name "SSE-C Manager" | head -1)
shot() { sleep "${2:-1.5}"; import -window "$W" "$OUT/$1.png"; echo "shot $1"; }
# No window manager runs, so key events sent with xdotool are not delivered; clicks are.
click() { xdotool mousemove --window "$W" "$1" "$2" click 1; }
nav() { click 75 $((75 + 33 * $1)); }
shot upload-dialog 3
click 368 480          # Upload
shot transfers 2.5
nav 0; shot keys
nav 1; shot objects 3
nav 3; shot audit
click 50 714; shot audit-light   # the theme button; and back
click 50 714
nav 4; shot connections
nav 0; click 207 76; shot generate-dialog   # Generate...
kill "$app" 2>/dev/null || true
'
echo "screenshots in $out"
