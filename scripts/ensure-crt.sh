#!/usr/bin/env bash
# Installs boto3 with the AWS Common Runtime (`pip install "boto3[crt]"`) once into a cached
# venv outside the checkout; bench/transfer.sh uses its CRT transfer manager as a peer client
# (bench/crt_transfer.py). Prints the path of the venv's python on stdout (progress goes to
# stderr). Fast no-op when already cached.
set -euo pipefail
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
venv="$CACHE/crt-venv"
py="$venv/bin/python"
stamp="$venv/.installed"   # written last, so an interrupted install is redone
ready() { [ -f "$stamp" ] && [ -x "$py" ]; }
if ! ready; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/crt-venv.lock"
  flock 9                     # two runs at once: the second waits, then finds it ready
  if ! ready; then
    echo "creating boto3 CRT venv in $venv (pip install \"boto3[crt]\")..." >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --disable-pip-version-check -q "boto3[crt]" >&2
    "$py" -c 'import awscrt, boto3, s3transfer; print("boto3", boto3.__version__, "s3transfer", s3transfer.__version__, "awscrt", awscrt.__version__)' >&2
    touch "$stamp"
  fi
fi
echo "$py"
