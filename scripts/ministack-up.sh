#!/usr/bin/env bash
# Usage: ministack-up.sh DIR — starts ministack (an AWS emulator) on 127.0.0.1, creates the
# test buckets and writes DIR/env for the tests. Stop it with server-down.sh DIR.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$here/lib/ports.sh"
mkdir -p "$1"
dir=$(cd "$1" && pwd)
bin=$("$here/ensure-servers.sh")
rm -f "$dir/env" "$dir/server.log"
read -r PORT < <(free_ports 1)
start=$(date +%s.%N)
rm -rf "$dir/data" "$dir/state"
# Objects on disk (S3_PERSIST), so that a test can kill the server and start it again.
write_start "$dir" BIND_HOST=127.0.0.1 GATEWAY_PORT="$PORT" S3_PERSIST=1 \
  S3_DATA_DIR="$dir/data" PERSIST_STATE=1 STATE_DIR="$dir/state" TMPDIR="$dir" -- \
  "$bin/ministack"
pid=$("$dir/start.sh")
wait_http "$PORT" 60 || { tail -20 "$dir/server.log" >&2; kill "$pid"; exit 1; }
# Any credentials work; an id and a secret that differ, so tests can tell them apart.
export AWS_ACCESS_KEY_ID=AKIAMINISTACKTEST AWS_SECRET_ACCESS_KEY=ministack-test-secret
aws=$("$here/ensure-awscli.sh")
for b in ssec-test ssec-test2; do
  "$aws" --endpoint-url "http://127.0.0.1:$PORT" --region us-east-1 s3api create-bucket \
    --bucket "$b" >/dev/null
done
write_env "$dir" ministack "http://127.0.0.1:$PORT" us-east-1 "$AWS_ACCESS_KEY_ID" \
  "$AWS_SECRET_ACCESS_KEY" "$pid"
end=$(date +%s.%N)
printf 'ministack up: pid %s, S3 http://127.0.0.1:%s, ready in %.2f s\n' \
  "$pid" "$PORT" "$(awk "BEGIN{print $end - $start}")" >&2
