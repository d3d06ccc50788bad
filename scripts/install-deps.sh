#!/usr/bin/env bash
# Installs the Debian packages the build and the test bench need (compiler, Mesa for headless
# rendering, Xvfb/xdotool, D-Bus + gnome-keyring, python3-venv for the aws CLI, TLS tools).
# Skips apt entirely when every package is already installed, so repeat runs are fast.
set -euo pipefail

PACKAGES=(
  ca-certificates gcc libc6-dev pkg-config
  mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1-mesa-dri
  xvfb xauth xdotool imagemagick libxcursor1 libxi6 libxkbcommon-x11-0
  dbus dbus-x11 gnome-keyring libsecret-tools
  python3-venv socat openssl age rclone desktop-file-utils openssh-client curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed" >&2
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
