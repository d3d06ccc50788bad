#!/usr/bin/env bash
# Usage: seaweedfs-up.sh DIR — starts SeaweedFS (`weed mini`, every port on 127.0.0.1) with
# its state under DIR, creates the test buckets and writes DIR/env for the tests. Stop it with
# server-down.sh DIR.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$here/lib/ports.sh"
mkdir -p "$1"
dir=$(cd "$1" && pwd)
bin=$("$here/ensure-servers.sh")
rm -rf "$dir/data" "$dir/env" "$dir/server.log"
mkdir -p "$dir/data"
# Identities: without any, SeaweedFS takes every request as anonymous admin, and refuses
# the aws CLI's unsigned streaming uploads over https with InvalidAccessKeyId.
KEY=seaweed-test SECRET=seaweed-test-secret WO_KEY=seaweed-write-only WO_SECRET=seaweed-write-only-secret
cat >"$dir/s3.json" <<JSON
{"identities": [
  {"name": "ssec-test", "credentials": [{"accessKey": "$KEY", "secretKey": "$SECRET"}],
   "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
  {"name": "write-only", "credentials": [{"accessKey": "$WO_KEY", "secretKey": "$WO_SECRET"}],
   "actions": ["Write:ssec-test"]}
]}
JSON
read -r S3 S3G MA MAG VO VOG FI FIG AD ADG ICE LANCE MET < <(free_ports 13)
start=$(date +%s.%N)
# Every port given: left alone, weed takes fixed ones and binds all interfaces.
write_start "$dir" -- "$bin/weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -s3.port="$S3" -s3.port.grpc="$S3G" -master.port="$MA" -master.port.grpc="$MAG" \
  -volume.port="$VO" -volume.port.grpc="$VOG" -filer.port="$FI" -filer.port.grpc="$FIG" \
  -admin.port="$AD" -admin.port.grpc="$ADG" -s3.port.iceberg="$ICE" -s3.port.lance="$LANCE" \
  -metricsPort="$MET" -webdav=false -s3.config="$dir/s3.json"
pid=$("$dir/start.sh")
wait_http "$S3" 60 || { tail -20 "$dir/server.log" >&2; kill "$pid"; exit 1; }
# The buckets may take a moment.
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET
aws=$("$here/ensure-awscli.sh")
for b in ssec-test ssec-test2; do
  for i in $(seq 1 100); do
    "$aws" --endpoint-url "http://127.0.0.1:$S3" --region us-east-1 s3api create-bucket \
      --bucket "$b" >/dev/null 2>&1 && break
    "$aws" --endpoint-url "http://127.0.0.1:$S3" --region us-east-1 s3api head-bucket \
      --bucket "$b" >/dev/null 2>&1 && break
    [ "$i" -lt 100 ] || { echo "seaweedfs-up: bucket $b not made" >&2; kill "$pid"; exit 1; }
    sleep 0.2
  done
done
write_env "$dir" seaweedfs "http://127.0.0.1:$S3" us-east-1 "$KEY" "$SECRET" "$pid"
write_only_env "$dir" "$WO_KEY" "$WO_SECRET"
end=$(date +%s.%N)
printf 'seaweedfs up: pid %s, S3 http://127.0.0.1:%s, ready in %.2f s\n' \
  "$pid" "$S3" "$(awk "BEGIN{print $end - $start}")" >&2
