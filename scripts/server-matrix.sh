#!/usr/bin/env bash
# Usage: server-matrix.sh probe ENV_FILE >RESULT.tsv — asks a running test server (its env
#        file, as written by scripts/SERVER-up.sh) how it does SSE-C, with the aws CLI as
#        the client: one "row<TAB>answer" line per behaviour.
#        server-matrix.sh render RESULT.tsv... — the markdown table of docs/PROVIDERS.md,
#        one column per server (the file name without .tsv).
# scripts/test.sh probes every server it tests and prints the table at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

rows=(
  "GET without the key"
  "HEAD without the key"
  "GET with a wrong key"
  "HEAD with a wrong key"
  "PUT with a key whose MD5 does not match"
  "re-key onto itself, MetadataDirective=COPY"
  "re-key onto itself, MetadataDirective=REPLACE"
  "UploadPartCopy with SSE-C"
  "UploadPart without the key (SSE-C upload)"
  "CompleteMultipartUpload without the key"
  "PUT with a CRC32 checksum"
  "PUT with a SHA1 checksum"
  "PUT with a SHA256 checksum"
  "ETag of an SSE-C object is the plaintext's MD5"
  "SSE-C answer headers sent once"
  "GetBucketEncryption, bucket without rules"
  "PutBucketEncryption with BlockedEncryptionTypes=SSE-C"
  "SSE-C PUT while BlockedEncryptionTypes=SSE-C"
  "SSE-C over plain http"
  "copy off SSE-C with SSE-S3 (what a keyless HEAD then says)"
)

# The aws CLI's answer, shortened: "ok", or the error code (HEAD has no body: its status).
answer() {
  local out
  if out=$("$@" 2>&1 >/dev/null); then echo ok; return; fi
  out=$(printf '%s' "$out" | tr '\n' ' ')
  case "$out" in
    *"An error occurred ("*) out=${out#*An error occurred (}; echo "refused: ${out%%)*}" ;;
    *) echo "failed: ${out:0:80}" ;;
  esac
}

probe() {
  # shellcheck source=/dev/null
  . "$1"
  local aws ep b tmp
  aws=$("$here/ensure-awscli.sh")
  ep=$SSEC_TEST_ENDPOINT b=$SSEC_TEST_BUCKET
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  cd "$tmp"
  s3() { "$aws" --endpoint-url "$ep" s3api "$@"; }
  k1=$(openssl rand -base64 32); k2=$(openssl rand -base64 32)
  md5() { printf %s "$1" | base64 -d | openssl dgst -md5 -binary | base64; }
  m1=$(md5 "$k1"); m2=$(md5 "$k2")
  sse() { echo --sse-customer-algorithm AES256 --sse-customer-key "$1" --sse-customer-key-md5 "$2"; }
  src() { echo --copy-source-sse-customer-algorithm AES256 --copy-source-sse-customer-key "$1" --copy-source-sse-customer-key-md5 "$2"; }
  o=".matrix-$(openssl rand -hex 4)"
  head -c 5000 /dev/urandom >body
  # shellcheck disable=SC2046
  s3 put-object --bucket "$b" --key "$o" --body body $(sse "$k1" "$m1") >put.json
  r() { printf '%s\t%s\n' "$1" "$2"; }
  # shellcheck disable=SC2046
  {
  r "${rows[0]}" "$(answer s3 get-object --bucket "$b" --key "$o" out)"
  r "${rows[1]}" "$(answer s3 head-object --bucket "$b" --key "$o")"
  r "${rows[2]}" "$(answer s3 get-object --bucket "$b" --key "$o" $(sse "$k2" "$m2") out)"
  r "${rows[3]}" "$(answer s3 head-object --bucket "$b" --key "$o" $(sse "$k2" "$m2"))"
  r "${rows[4]}" "$(answer s3 put-object --bucket "$b" --key "$o-md5" --body body $(sse "$k1" "$m2"))"
  r "${rows[5]}" "$(answer s3 copy-object --bucket "$b" --key "$o" --copy-source "$b/$o" \
      --metadata-directive COPY $(src "$k1" "$m1") $(sse "$k2" "$m2"))"
  # Wherever the object is now, REPLACE from there back to k1.
  if s3 head-object --bucket "$b" --key "$o" $(sse "$k2" "$m2") >/dev/null 2>&1; then
    cur=("$k2" "$m2"); else cur=("$k1" "$m1"); fi
  r "${rows[6]}" "$(answer s3 copy-object --bucket "$b" --key "$o" --copy-source "$b/$o" \
      --metadata-directive REPLACE $(src "${cur[@]}") $(sse "$k1" "$m1"))"
  if s3 head-object --bucket "$b" --key "$o" $(sse "$k1" "$m1") >/dev/null 2>&1; then
    cur=("$k1" "$m1"); fi
  up=$(s3 create-multipart-upload --bucket "$b" --key "$o-mp" $(sse "$k1" "$m1") --query UploadId --output text)
  r "${rows[7]}" "$(answer s3 upload-part-copy --bucket "$b" --key "$o-mp" --upload-id "$up" \
      --part-number 1 --copy-source "$b/$o" --copy-source-range bytes=0-9 $(src "${cur[@]}") $(sse "$k1" "$m1"))"
  r "${rows[8]}" "$(answer s3 upload-part --bucket "$b" --key "$o-mp" --upload-id "$up" --part-number 2 --body body)"
  s3 abort-multipart-upload --bucket "$b" --key "$o-mp" --upload-id "$up" >/dev/null 2>&1 || true
  up=$(s3 create-multipart-upload --bucket "$b" --key "$o-c" $(sse "$k1" "$m1") --query UploadId --output text)
  etag=$(s3 upload-part --bucket "$b" --key "$o-c" --upload-id "$up" --part-number 1 --body body \
      $(sse "$k1" "$m1") --query ETag --output text)
  printf '{"Parts":[{"PartNumber":1,"ETag":%s}]}' "$(printf '%s' "$etag" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" >parts.json
  r "${rows[9]}" "$(answer s3 complete-multipart-upload --bucket "$b" --key "$o-c" --upload-id "$up" \
      --multipart-upload file://parts.json)"
  s3 abort-multipart-upload --bucket "$b" --key "$o-c" --upload-id "$up" >/dev/null 2>&1 || true
  for alg in CRC32 SHA1 SHA256; do
    case $alg in CRC32) i=10 ;; SHA1) i=11 ;; SHA256) i=12 ;; esac
    r "${rows[$i]}" "$(answer s3 put-object --bucket "$b" --key "$o-$alg" --body body \
        --checksum-algorithm "$alg" $(sse "$k1" "$m1"))"
  done
  plain_md5=$(openssl dgst -md5 -r body | cut -d' ' -f1)
  if grep -q "$plain_md5" put.json; then r "${rows[13]}" "yes (the ETag leaks it)"; else r "${rows[13]}" no; fi
  hdrs=$("$aws" --debug --endpoint-url "$ep" s3api head-object --bucket "$b" --key "$o" $(sse "${cur[@]}") 2>&1 \
      | grep -i "Response headers" | grep -io "customer-key-md5': '[^']*'" || true)
  case "$hdrs" in *", "*) r "${rows[14]}" "no (key MD5 sent twice)" ;; "") r "${rows[14]}" "n/a" ;; *) r "${rows[14]}" yes ;; esac
  r "${rows[15]}" "$(answer s3 get-bucket-encryption --bucket "$b")"
  blocked=$(answer s3 put-bucket-encryption --bucket "$b" --server-side-encryption-configuration \
      '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"},"BlockedEncryptionTypes":{"EncryptionType":["SSE-C"]}}]}')
  r "${rows[16]}" "$blocked"
  if [ "$blocked" = ok ]; then
    r "${rows[17]}" "$(answer s3 put-object --bucket "$b" --key "$o-blocked" --body body $(sse "$k1" "$m1"))"
    s3 delete-bucket-encryption --bucket "$b" >/dev/null 2>&1 || true
  else
    r "${rows[17]}" "n/a"
  fi
  case "$ep" in
    http://*) r "${rows[18]}" "accepted (every row above ran over http)" ;;
    *) r "${rows[18]}" "not tried (https endpoint)" ;;
  esac
  # `migrate --to sse-s3`: a copy read with the key, written with SSE-S3.
  moved=$(answer s3 copy-object --bucket "$b" --key "$o-s3" --copy-source "$b/$o" \
      $(src "${cur[@]}") --server-side-encryption AES256)
  if [ "$moved" = ok ]; then
    said=$(s3 head-object --bucket "$b" --key "$o-s3" --query ServerSideEncryption --output text 2>/dev/null || echo failed)
    case "$said" in
      AES256) r "${rows[19]}" "AES256 (SSE-S3 done)" ;;
      None|"") r "${rows[19]}" "nothing: stored unencrypted (the header is ignored)" ;;
      *) r "${rows[19]}" "$said" ;;
    esac
  else
    r "${rows[19]}" "$moved"
  fi
  } 
  for k in "$o" "$o-md5" "$o-CRC32" "$o-SHA1" "$o-SHA256" "$o-blocked" "$o-s3"; do
    s3 delete-object --bucket "$b" --key "$k" >/dev/null 2>&1 || true
  done
}

render() {
  local f names=() row
  for f in "$@"; do names+=("$(basename "$f" .tsv)"); done
  printf '| behaviour |'; printf ' %s |' "${names[@]}"; printf '\n|---|'
  printf -- '---|%.0s' "${names[@]}"; printf '\n'
  for row in "${rows[@]}"; do
    printf '| %s |' "$row"
    for f in "$@"; do
      printf ' %s |' "$(awk -F'\t' -v r="$row" '$1 == r { print $2 }' "$f")"
    done
    printf '\n'
  done
}

case "${1:-}" in
  probe) shift; [ $# -eq 1 ] || { echo "usage: $0 probe ENV_FILE" >&2; exit 2; }; probe "$1" ;;
  render) shift; render "$@" ;;
  *) echo "usage: $0 probe ENV_FILE | render RESULT.tsv..." >&2; exit 2 ;;
esac
