#!/usr/bin/env bash
# Installs the aws CLI v1 (`pip install awscli`) once into a cached venv outside the checkout;
# the interop tests use it as an independent S3/SSE-C peer client. Prints the path of `aws`
# on stdout (progress goes to stderr). Fast no-op when already cached.
set -euo pipefail
CACHE=${SSEC_CACHE:-/var/cache/ssec-manager}
venv="$CACHE/awscli-venv"
aws="$venv/bin/aws"
stamp="$venv/.installed"   # written last, so an interrupted install is redone
ready() { [ -f "$stamp" ] && [ -x "$aws" ] && [ -x "$venv/bin/python" ]; }
if ! ready; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/awscli-venv.lock"
  flock 9                     # two runs at once: the second waits, then finds it ready
  if ! ready; then
    echo "creating aws CLI venv in $venv (pip install awscli)..." >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --disable-pip-version-check -q awscli >&2
    "$aws" --version >&2
    touch "$stamp"
  fi
fi
echo "$aws"
