#!/usr/bin/env bash
# Usage: tls-front.sh DIR UPSTREAM_PORT [SAN] — puts TLS in front of a test server on
# 127.0.0.1:UPSTREAM_PORT: a CA made for this run (DIR/ca.pem, its key never leaves DIR), a
# server certificate it signs for SAN (default "IP:127.0.0.1,DNS:localhost"), and socat
# listening on a free port of 127.0.0.1. Prints the https endpoint; the pid goes to
# DIR/tls.pid (server-down.sh DIR stops it).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR UPSTREAM_PORT [SAN]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$here/lib/ports.sh"
mkdir -p "$1"
dir=$(cd "$1" && pwd)
upstream=$2
san=${3:-IP:127.0.0.1,DNS:localhost}
command -v socat >/dev/null || { echo "tls-front: socat not found; run scripts/install-deps.sh" >&2; exit 1; }
(
  cd "$dir"
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=ssec-manager test CA $(date +%s%N)" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=ssec-manager test server" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
  chmod 644 ca.pem
)
read -r PORT < <(free_ports 1)
setsid socat "openssl-listen:$PORT,bind=127.0.0.1,reuseaddr,fork,cert=$dir/server.pem,key=$dir/server.key,verify=0" \
  "tcp:127.0.0.1:$upstream" </dev/null >>"$dir/tls.log" 2>&1 &
echo $! >"$dir/tls.pid"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.05
done
echo "https://127.0.0.1:$PORT"
