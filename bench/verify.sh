#!/usr/bin/env bash
# Usage: bench/verify.sh [OBJECTS] [RUNS] — how long `ssec-manager verify` takes to check
# OBJECTS (default 1000) SSE-C objects on one local Garage, against the way it is done
# without it: a shell loop of `aws s3api head-object --sse-customer-*` over the same objects.
# Prints both times (median of RUNS for ssec-manager, default 3; one pass of the loop, which
# is slow), per object, and the ratio. Builds nothing: it measures
# ${SSEC_BIN:-/var/cache/ssec-manager/target/release/ssec-manager}.
set -euo pipefail

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/bench.sh
. "$root/scripts/lib/bench.sh"

if [ "${1:-}" != "--inner" ]; then
  N=${1:-1000}
  RUNS=${2:-3}
  bench_positive OBJECTS "$N"
  bench_positive RUNS "$RUNS"
  bench_binary
  bench_tools dbus-run-session gnome-keyring-daemon python3 openssl
  aws=$("$root/scripts/ensure-awscli.sh")
  export GARAGE_BIN
  GARAGE_BIN=$("$root/scripts/ensure-garage.sh")

  bench_workdir "${TMPDIR:-/tmp}" ssec-verify-bench

  # shellcheck source=scripts/lib/isolate.sh
  . "$root/scripts/lib/isolate.sh"
  isolate_desktop "$work"
  isolate_aws "$work"
  printf '[default]\nregion = garage\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"

  "$root/scripts/garage-up.sh" "$work/garage"
  # shellcheck source=/dev/null
  . "$work/garage/env"
  cp "$SSEC_BIN" "$work/ssec-manager"
  export BENCH_N="$N" BENCH_RUNS="$RUNS" BENCH_WORK="$work" BENCH_AWS="$aws" \
    SSEC_BIN="$work/ssec-manager" SSEC_BIN_ORIG="$SSEC_BIN"
  bench_inner "$self"
fi

# ---- inside the D-Bus session ----
N=$BENCH_N
RUNS=$BENCH_RUNS
W=$BENCH_WORK
aws=$BENCH_AWS
EP=$SSEC_TEST_ENDPOINT
B=$SSEC_TEST_BUCKET
export SSEC_MANAGER_HOME="$W/home"
ssec() { "$SSEC_BIN" "$@"; }

ssec key generate bench >/dev/null 2>&1
ssec connection add g --endpoint "$EP" --region garage --path-style >/dev/null
say "writing $N files of 1 KiB and uploading them with ssec-manager (folder upload)"
mkdir -p "$W/objects"
for i in $(seq -w 1 "$N"); do head -c 1024 /dev/urandom >"$W/objects/o$i"; done
ssec upload "$W/objects" "s3://$B/verify/" --key bench --quiet >/dev/null
stored=$(ssec objects --json | python3 -c 'import json,sys; print(sum(o["state"] == "stored" for o in json.load(sys.stdin)))')
[ "$stored" -eq "$N" ] || die "expected $N stored objects, the registry has $stored"

ssec_times=()
for r in $(seq 1 "$RUNS"); do
  t0=$(now)
  ssec verify --quiet >"$W/verify.out"
  t1=$(now)
  grep -q "^$N object(s) checked: $N ok" "$W/verify.out" || die "verify did not report $N ok: $(cat "$W/verify.out")"
  ssec_times+=("$(elapsed "$t0" "$t1")")
  say "run $r/$RUNS: ssec-manager verify of $N objects: ${ssec_times[-1]} s"
done
ssec_median=$(printf '%s\n' "${ssec_times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')

# The loop a user writes today: the seed's SSE_KEY / SSE_MD5 lines, one head-object each.
eval "$(ssec key env bench)"
say "aws s3api head-object loop over the same $N objects (one pass)"
t0=$(now)
failed=0
for i in $(seq -w 1 "$N"); do
  "$aws" --endpoint-url "$EP" s3api head-object --bucket "$B" --key "verify/o$i" \
    --sse-customer-algorithm AES256 --sse-customer-key "$SSE_KEY" \
    --sse-customer-key-md5 "$SSE_MD5" >/dev/null 2>&1 || failed=$((failed + 1))
done
t1=$(now)
unset SSE_KEY SSE_MD5
[ "$failed" -eq 0 ] || die "$failed head-object calls failed"
aws_time=$(elapsed "$t0" "$t1")

echo "ssec-manager verify benchmark: $N SSE-C objects of 1 KiB on one local Garage"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
echo "versions: $("$SSEC_BIN" --version) ($SSEC_BIN_ORIG)"
echo "          $("$aws" --version 2>&1)"
echo "          $("$SSEC_TEST_GARAGE_BIN" --version 2>/dev/null | head -n 1)"
echo "ssec-manager: verify (HEAD with each object's key, 16 in flight), median of $RUNS: ${ssec_median} s"
echo "  runs: ${ssec_times[*]}"
echo "aws CLI: shell loop of s3api head-object with the SSE-C flags, one pass: ${aws_time} s"
awk -v s="$ssec_median" -v a="$aws_time" -v n="$N" 'BEGIN {
  printf "per object: ssec-manager %.2f ms, aws loop %.1f ms\n", 1000 * s / n, 1000 * a / n
  printf "ratio ssec/aws = %.4f (%.0fx faster)\n", s / a, a / s }'
