#!/usr/bin/env bash
# Usage: bench/transfer.sh [SIZE_MIB (default 1024)] [RUNS (default 3)]
#
# Transfer benchmark of ssec-manager against the aws CLI, rclone and boto3's CRT transfer
# manager (bench/crt_transfer.py), all with SSE-C, against ONE fresh local Garage
# (scripts/garage-up.sh). Each run uploads and downloads a random SIZE MiB file with every
# tool in turn (ssec, aws, rclone, crt), checks every download byte for byte and reports the
# median time per tool and direction, the ratios against the goals (ssec/aws <= 0.8,
# ssec/rclone <= 0.9; ssec/crt is shown, without a goal) and ssec-manager's peak RSS for SIZE
# and 4 x SIZE (goal <= 200 MiB, 4 x SIZE within 20 % of SIZE). Builds nothing: it uses
# ${SSEC_BIN:-/var/cache/ssec-manager/target/release/ssec-manager} (else the debug build).
#
# Environment:
#   SSEC_BIN       the ssec-manager binary to measure
#   SSEC_ARGS      extra transfer flags for ssec-manager upload/download (an experiment,
#                  e.g. "--concurrency 16 --part-size 16MiB"); empty = its defaults
#   BENCH_TMPDIR   where the test files and Garage's data go (default $TMPDIR or /tmp; a
#                  tmpfs is refused in favour of /var/tmp, the numbers must come from a disk)
#   BENCH_CRT      0 = leave out the boto3 CRT peer (its venv: scripts/ensure-crt.sh)
#
# rclone refuses SSE-C over plain http, so it talks to Garage through a TLS front (socat with
# a self-signed certificate for 127.0.0.1); ssec-manager and the aws CLI use Garage's http
# port directly, and so does the CRT peer. The report on stdout says so; progress goes to stderr.
# Everything (Garage, socat, keyring session, temp files) is torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
self="$here/$(basename "$0")"

# shellcheck source=scripts/lib/bench.sh
. "$root/scripts/lib/bench.sh"

if [ "${1:-}" != "--inner" ]; then
  ##########################################################################################
  # Outer part: checks, temp dir, Garage, TLS front; then the measurements run inside a
  # private D-Bus session with gnome-keyring (ssec-manager keeps its keys there).
  ##########################################################################################
  SIZE=${1:-1024}
  RUNS=${2:-3}
  bench_positive SIZE_MIB "$SIZE"
  bench_positive RUNS "$RUNS"
  bench_binary

  command -v rclone >/dev/null || bench_apt_install rclone
  [ -x /usr/bin/time ] || bench_apt_install time
  command -v socat >/dev/null || bench_apt_install socat
  bench_tools dbus-run-session gnome-keyring-daemon python3 openssl socat rclone

  aws=$("$root/scripts/ensure-awscli.sh")
  crt_py=
  [ "${BENCH_CRT:-1}" = 0 ] || crt_py=$("$root/scripts/ensure-crt.sh")
  export GARAGE_BIN
  GARAGE_BIN=$("$root/scripts/ensure-garage.sh")

  # The files must live on a disk: a tmpfs would measure memory, not a disk.
  bench_disk_base
  need=$((8 * SIZE + 1024))   # source, download, 4 objects in Garage, slack
  [ "$(bench_avail_mib "$base")" -ge "$need" ] ||
    die "not enough free disk in $base: $(bench_avail_mib "$base") MiB, need about $need MiB"

  bench_workdir "$base" ssec-bench
  # Isolated desktop and AWS settings (aws CLI: path style, transfer settings at defaults).
  bench_isolate

  "$root/scripts/garage-up.sh" "$work/garage"
  # shellcheck source=/dev/null
  . "$work/garage/env"
  garage_port=${SSEC_TEST_ENDPOINT##*:}

  # TLS front for rclone: self-signed certificate for 127.0.0.1, socat on a free port.
  bench_tls_front "$garage_port"

  # Measure a private copy: a `cargo build` during the run must not swap the binary.
  cp "$SSEC_BIN" "$work/ssec-manager"
  SSEC_BIN_ORIG=$SSEC_BIN
  SSEC_BIN="$work/ssec-manager"
  export BENCH_SIZE="$SIZE" BENCH_RUNS="$RUNS" BENCH_WORK="$work" BENCH_AWS="$aws" \
    BENCH_TLS_PORT="$tls_port" BENCH_SOCAT_PID="$socat_pid" SSEC_BIN SSEC_BIN_ORIG SSEC_ARGS="${SSEC_ARGS:-}" \
    BENCH_CRT_PY="$crt_py"

  bench_inner "$self"
fi

##########################################################################################
# Inner part: runs inside the D-Bus session; the outer trap tears everything down.
##########################################################################################
SIZE=$BENCH_SIZE
RUNS=$BENCH_RUNS
W=$BENCH_WORK
aws=$BENCH_AWS
EP=$SSEC_TEST_ENDPOINT
B=$SSEC_TEST_BUCKET
H="$W/home"
logs="$W/logs"
mkdir -p "$logs" "$W/files"
read -r -a ssec_extra <<<"${SSEC_ARGS:-}"

# The home goes in SSEC_MANAGER_HOME, the same as --home on every command (and immune to
# builds that read `--home DIR key ...` as the window's FILE arguments, as one briefly did).
export SSEC_MANAGER_HOME="$H"
ssec() { "$SSEC_BIN" "$@"; }

# timed, proc_cpu, median, ratio, verdict, mib, check_ssec_object: scripts/lib/bench.sh.

gen_file() {  # path, MiB
  say "writing $2 MiB of random data to $1"
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
  sync
}

src="$W/files/src.bin"
out="$W/files/out.bin"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
gen_file "$src" "$SIZE"

# --- the SSE-C key, as ssec-manager keeps it and as the other tools take it ---
bench_ssec_key bench
bench_ssec_connection g "$EP"

# --- rclone: remote from environment variables, SSE-C through the s3 backend options ---
bench_rclone_remote bench "https://127.0.0.1:$BENCH_TLS_PORT"
# --ignore-times: rclone otherwise skips an upload whose destination already matches in
# size and time, and runs 2..N would measure nothing.
rclone_flags=("${rclone_ca[@]}" --ignore-times)
unset AWS_CA_BUNDLE

# --- boto3's CRT transfer manager (bench/crt_transfer.py; plain http to Garage, path style) ---
crt_py=${BENCH_CRT_PY:-}
crt_cmd=("$crt_py" "$here/crt_transfer.py")
crt_opts=(--endpoint "$EP" --region garage --key-file "$W/k.raw")
if [ -n "$crt_py" ]; then
  # Evidence that the CRT really moves the data (no silent fallback to s3transfer's classic
  # manager, which never touches awscrt): awscrt's own log announces each meta request, and
  # the URL is path style on the loopback endpoint.
  head -c 1048576 /dev/urandom >"$W/files/crt-probe.bin"
  "${crt_cmd[@]}" up "$W/files/crt-probe.bin" "s3://$B/bench/crt-probe.bin" "${crt_opts[@]}" \
    --show-client --crt-log Info >"$logs/crt-probe.log" 2>&1 ||
    { echo "bench: the CRT probe upload failed:" >&2; tail -n 20 "$logs/crt-probe.log" >&2; exit 1; }
  grep -q 'Created meta request' "$logs/crt-probe.log" ||
    { echo "bench: awscrt logged no meta request: the CRT did not carry the upload" >&2; exit 1; }
  crt_client=$(grep '^crt_transfer: manager' "$logs/crt-probe.log" | sed 's/^crt_transfer: //')
  say "CRT peer: $crt_client"
fi

awsc() { "$aws" --endpoint-url "$EP" "$@"; }
sse_aws=(--sse-c AES256 --sse-c-key "fileb://$W/k.raw")

up() {  # tool
  case $1 in
    ssec) timed "$2" "$SSEC_BIN" upload "$src" "s3://$B/bench/ssec.bin" --key bench \
      --quiet "${ssec_extra[@]}" ;;
    aws) timed "$2" "$aws" --endpoint-url "$EP" s3 cp --only-show-errors "$src" \
      "s3://$B/bench/aws.bin" "${sse_aws[@]}" ;;
    rclone) timed "$2" rclone "${rclone_flags[@]}" copyto "$src" "bench:$B/bench/rclone.bin" ;;
    crt) timed "$2" "${crt_cmd[@]}" up "$src" "s3://$B/bench/crt.bin" "${crt_opts[@]}" ;;
  esac
}
down() {  # tool
  case $1 in
    ssec) timed "$2" "$SSEC_BIN" download "s3://$B/bench/ssec.bin" "$out" \
      --quiet "${ssec_extra[@]}" ;;
    aws) timed "$2" "$aws" --endpoint-url "$EP" s3 cp --only-show-errors \
      "s3://$B/bench/aws.bin" "$out" "${sse_aws[@]}" ;;
    rclone) timed "$2" rclone "${rclone_flags[@]}" copyto "bench:$B/bench/rclone.bin" "$out" ;;
    crt) timed "$2" "${crt_cmd[@]}" down "$out" "s3://$B/bench/crt.bin" "${crt_opts[@]}" ;;
  esac
}

TOOLS=(ssec aws rclone)
[ -z "$crt_py" ] || TOOLS+=(crt)
declare -A RSS_MAX=([up]=0 [down]=0)
for run in $(seq 1 "$RUNS"); do
  for tool in "${TOOLS[@]}"; do
    for dir in up down; do
      label="$tool-$dir-$run"
      "$dir" "$tool" "$label"
      echo "$T_WALL" >>"$logs/$tool-$dir.wall"
      echo "$T_CPU" >>"$logs/$tool-$dir.cpu"
      echo "$T_GARAGE" >>"$logs/$tool-$dir.garage"
      echo "$T_SOCAT" >>"$logs/$tool-$dir.socat"
      if [ "$tool" = ssec ] && [ "$T_RSS" -gt "${RSS_MAX[$dir]}" ]; then RSS_MAX[$dir]=$T_RSS; fi
      if [ "$dir" = down ]; then
        cmp "$src" "$out" || { echo "bench: $label: download differs from the source" >&2; exit 1; }
        rm -f "$out"
      fi
      sync   # one tool's dirty pages must not slow the next one down
      say "run $run/$RUNS $tool $dir: ${T_WALL}s (client CPU ${T_CPU}s, garage CPU ${T_GARAGE}s)"
    done
    if [ "$run" = 1 ]; then check_ssec_object "$EP" "$B" "bench/$tool.bin"; fi
  done
done
rm -f "$src"

# --- peak RSS of ssec-manager for 4 x SIZE ---
big=$((4 * SIZE))
awsc s3 rm --recursive --only-show-errors "s3://$B/bench/" >/dev/null
avail=$(df -Pm "$W" | awk 'NR == 2 { print $4 }')
big_need=$((3 * big + 1024))   # source, download, the object in Garage, slack
if [ "$avail" -ge "$big_need" ]; then
  bsrc="$W/files/big.bin"
  gen_file "$bsrc" "$big"
  src=$bsrc
  up ssec ssec-up-big; big_up_wall=$T_WALL; big_up_rss=$T_RSS
  say "ssec up ${big} MiB: ${T_WALL}s, peak RSS $(mib "$T_RSS") MiB"
  down ssec ssec-down-big; big_down_wall=$T_WALL; big_down_rss=$T_RSS
  say "ssec down ${big} MiB: ${T_WALL}s, peak RSS $(mib "$T_RSS") MiB"
  cmp "$bsrc" "$out" || { echo "bench: ${big} MiB download differs from the source" >&2; exit 1; }
  rm -f "$out" "$bsrc"
  big_note=
else
  big_note="skipped: $avail MiB free in $W, need about $big_need MiB for the ${big} MiB test"
  say "$big_note"
fi

##########################################################################################
# Report (stdout)
##########################################################################################
med() { median "${3:-%.3f}" <"$logs/$1.$2"; }
rate() { awk -v s="$SIZE" -v t="$1" 'BEGIN { printf "%.1f", s / t }'; }

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }')

echo "ssec-manager transfer benchmark: $SIZE MiB random file, $RUNS run(s), SSE-C everywhere"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($cpu_model), $mem_total RAM, Linux $(uname -r), files on $fs"
echo "          load average at start: $load_start (1, 5, 15 min)"
echo "versions: $("$SSEC_BIN" --version) ($SSEC_BIN_ORIG, built $(date -u -r "$SSEC_BIN_ORIG" '+%Y-%m-%d %H:%M UTC'))"
echo "          $("$aws" --version 2>&1)"
echo "          $(rclone version | head -1)"
[ -z "$crt_py" ] || echo "          boto3 CRT: $crt_client"
echo "          $("$SSEC_TEST_GARAGE_BIN" --version 2>&1 | head -1)"
echo "server:   one local Garage (replication 1, lmdb), $EP"
echo "settings: ssec-manager: ${SSEC_ARGS:-defaults} (plain http to Garage)"
echo "          aws CLI: s3 cp --sse-c AES256 --sse-c-key fileb://KEY; addressing_style=path,"
echo "            otherwise defaults (max_concurrent_requests 10, multipart 8MB/8MB; plain http)"
echo "          rclone: copyto --ignore-times, type s3, provider Other, force_path_style, region garage,"
echo "            --s3-sse-customer-algorithm AES256 --s3-sse-customer-key-base64 KEY,"
echo "            --ca-cert SELF-SIGNED, otherwise defaults; via https through a socat TLS front"
echo "            (socat -b 131072 openssl-listen -> Garage), whose CPU is part of its time"
[ -z "$crt_py" ] || {
  echo "          crt: bench/crt_transfer.py, s3transfer CRTTransferManager on awscrt's S3Client,"
  echo "            TransferConfig(preferred_transfer_client=\"crt\") otherwise defaults (part size and"
  echo "            connections chosen by the CRT), SSECustomerAlgorithm/SSECustomerKey in extra_args,"
  echo "            path style, plain http (use_ssl=False); one python process per transfer"
}
echo "checks:   every download identical to the source (cmp); each tool's object refused by"
echo "          HEAD without key and accepted with it (SSE-C really applied)"
echo
printf '%-9s %-7s %9s %9s %10s %10s %10s\n' direction tool "median s" "MiB/s" "client CPU" "garage CPU" "socat CPU"
for dir in up down; do
  name=$([ "$dir" = up ] && echo upload || echo download)
  for tool in "${TOOLS[@]}"; do
    m=$(med "$tool-$dir" wall)
    socat_cpu=$([ "$tool" = rclone ] && echo "$(med "$tool-$dir" socat %.2f)s" || echo -)
    printf '%-9s %-7s %9s %9s %9ss %9ss %10s\n' "$name" "$tool" "$m" "$(rate "$m")" \
      "$(med "$tool-$dir" cpu %.2f)" "$(med "$tool-$dir" garage %.2f)" "$socat_cpu"
  done
done
echo "(median of $RUNS; CPU columns: median CPU seconds, user+system, of the client process,"
echo " of Garage and of socat's TLS children during the transfer)"
echo
for dir in up down; do
  name=$([ "$dir" = up ] && echo upload || echo download)
  s=$(med ssec-$dir wall); a=$(med aws-$dir wall); r=$(med rclone-$dir wall)
  ra=$(ratio "$s" "$a"); rr=$(ratio "$s" "$r")
  printf '%-9s ssec/aws    = %s (goal <= 0.80) %s\n' "$name" "$ra" "$(verdict "$ra" 0.80)"
  printf '%-9s ssec/rclone = %s (goal <= 0.90) %s\n' "$name" "$rr" "$(verdict "$rr" 0.90)"
  if [ -n "$crt_py" ]; then
    c=$(med crt-$dir wall)
    printf '%-9s ssec/crt    = %s (no goal); crt/aws = %s\n' "$name" "$(ratio "$s" "$c")" "$(ratio "$c" "$a")"
  fi
done
echo
for dir in up down; do
  name=$([ "$dir" = up ] && echo upload || echo download)
  small=${RSS_MAX[$dir]}
  printf 'peak RSS ssec-manager %-8s %5d MiB: %7s MiB (goal <= 200) %s\n' "$name" "$SIZE" \
    "$(mib "$small")" "$(verdict "$(mib "$small")" 200)"
  if [ -z "$big_note" ]; then
    bigrss=$([ "$dir" = up ] && echo "$big_up_rss" || echo "$big_down_rss")
    bigwall=$([ "$dir" = up ] && echo "$big_up_wall" || echo "$big_down_wall")
    rr=$(ratio "$bigrss" "$small")
    printf 'peak RSS ssec-manager %-8s %5d MiB: %7s MiB (goal <= 200) %s; %.1f MiB/s\n' "$name" "$big" \
      "$(mib "$bigrss")" "$(verdict "$(mib "$bigrss")" 200)" "$(rate "$(awk -v t="$bigwall" 'BEGIN{print t/4}')")"
    printf '  %s %d MiB / %d MiB peak ratio = %s (goal <= 1.20) %s\n' "$name" "$big" "$SIZE" "$rr" \
      "$(verdict "$rr" 1.20)"
  else
    echo "  ${big} MiB test $big_note"
  fi
done
echo
echo "raw wall seconds per run (${TOOLS[*]}):"
for dir in up down; do
  name=$([ "$dir" = up ] && echo upload || echo download)
  for run in $(seq 1 "$RUNS"); do
    row=
    for tool in "${TOOLS[@]}"; do row="$row $(sed -n "${run}p" "$logs/$tool-$dir.wall")"; done
    printf '  %-8s run %d:%s\n' "$name" "$run" "$row"
  done
done
