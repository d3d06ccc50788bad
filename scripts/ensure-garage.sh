#!/usr/bin/env bash
# Builds Garage (the real S3 server the tests talk to) once and caches it outside the checkout.
# Prints the path of the garage binary on stdout.
set -euo pipefail
GARAGE_VERSION=2.5.0
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
root="$CACHE/garage-$GARAGE_VERSION"
bin="$root/bin/garage"
if [ ! -x "$bin" ]; then
  mkdir -p "$root"
  build=$(mktemp -d)
  echo "building garage $GARAGE_VERSION into $root (about 12 minutes on 2 cores)..." >&2
  CARGO_TARGET_DIR="$build" cargo install garage --version "$GARAGE_VERSION" --locked \
    --no-default-features --features bundled-libs,lmdb --root "$root" >&2
  rm -rf "$build"
fi
echo "$bin"
