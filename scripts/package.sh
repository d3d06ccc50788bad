#!/usr/bin/env bash
# Builds the .deb (cargo-deb, cached outside the checkout), installs it with dpkg, checks the
# desktop entry, and starts the entry's Exec under Xvfb until the window shows. Prints the
# path of the .deb. Used by CI; run it by hand to make a package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
cd "$root"

desktop-file-validate assets/ssec-manager.desktop
if [ ! -x "$CACHE/cargo-deb/bin/cargo-deb" ]; then
  echo "installing cargo-deb into $CACHE/cargo-deb..." >&2
  CARGO_TARGET_DIR="$CACHE/cargo-deb-build" cargo install cargo-deb --locked --root "$CACHE/cargo-deb" >&2
  rm -rf "$CACHE/cargo-deb-build"
fi
deb=$("$CACHE/cargo-deb/bin/cargo-deb" --output "$CACHE/deb/" | tail -1)
echo "built $deb" >&2
dpkg -i "$deb" >&2
test -x /usr/bin/ssec-manager
test -f /usr/share/applications/ssec-manager.desktop
test -f /usr/share/icons/hicolor/256x256/apps/ssec-manager.png

# Start what a double-click starts: the entry's Exec line, in a throwaway session.
exec_line=$(sed -n 's/^Exec=//p' /usr/share/applications/ssec-manager.desktop | sed 's/ %[fFuU]//')
tmp=$(mktemp -d)
trap 'kill "${app:-}" "${xvfb:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
Xvfb :96 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 1
mkdir -p "$tmp/run" && chmod 700 "$tmp/run"
DISPLAY=:96 XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" \
  $exec_line >"$tmp/app.log" 2>&1 &
app=$!
if ! DISPLAY=:96 timeout 30 xdotool search --sync --name "SSE-C Manager" >/dev/null; then
  echo "package.sh: the installed app did not open its window; log:" >&2
  cat "$tmp/app.log" >&2
  exit 1
fi
echo "installed package opens its window: ok" >&2
echo "$deb"
