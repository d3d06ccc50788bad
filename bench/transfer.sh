#!/usr/bin/env bash
# Usage: bench/transfer.sh [SIZE_MIB (default 1024)] [RUNS (default 3)]
#
# Transfer benchmark of ssec-manager against the aws CLI and rclone, all three with SSE-C,
# against ONE fresh local Garage (scripts/garage-up.sh). Each run uploads and downloads a
# random SIZE MiB file with every tool in turn (ssec, aws, rclone), checks every download
# byte for byte and reports the median time per tool and direction, the ratios against the
# goals (ssec/aws <= 0.8, ssec/rclone <= 0.9) and ssec-manager's peak RSS for SIZE and
# 4 x SIZE (goal <= 200 MiB, 4 x SIZE within 20 % of SIZE). Builds nothing: it uses
# ${SSEC_BIN:-/var/cache/ssec-manager/target/release/ssec-manager}.
#
# Environment:
#   SSEC_BIN       the ssec-manager binary to measure
#   SSEC_ARGS      extra transfer flags for ssec-manager upload/download (an experiment,
#                  e.g. "--concurrency 16 --part-size 16MiB"); empty = its defaults
#   BENCH_TMPDIR   where the test files and Garage's data go (default $TMPDIR or /tmp; a
#                  tmpfs is refused in favour of /var/tmp, the numbers must come from a disk)
#
# rclone refuses SSE-C over plain http, so it talks to Garage through a TLS front (socat with
# a self-signed certificate for 127.0.0.1); ssec-manager and the aws CLI use Garage's http
# port directly. The report on stdout says so; progress goes to stderr.
# Everything (Garage, socat, keyring session, temp files) is torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
self="$here/$(basename "$0")"

# shellcheck source=scripts/lib/bench.sh
. "$root/scripts/lib/bench.sh"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

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

  apt_install() {
    say "installing Debian package(s) $* (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then
      apt-get install -y --no-install-recommends "$@" >&2 ||
        { apt-get update >&2 && apt-get install -y --no-install-recommends "$@" >&2; }
    else
      sudo apt-get install -y --no-install-recommends "$@" >&2
    fi
  }
  command -v rclone >/dev/null || apt_install rclone
  [ -x /usr/bin/time ] || apt_install time
  command -v socat >/dev/null || apt_install socat
  bench_tools dbus-run-session gnome-keyring-daemon python3 openssl socat rclone

  aws=$("$root/scripts/ensure-awscli.sh")
  export GARAGE_BIN
  GARAGE_BIN=$("$root/scripts/ensure-garage.sh")

  # The files must live on a disk: a tmpfs would measure memory, not a disk.
  base=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
  if [ "$(stat -f -c %T "$base")" = tmpfs ]; then
    say "$base is a tmpfs; using /var/tmp instead"
    base=/var/tmp
  fi
  [ "$(stat -f -c %T "$base")" != tmpfs ] || die "$base is a tmpfs too; set BENCH_TMPDIR to a disk"
  avail_mib() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }
  need=$((6 * SIZE + 1024))   # source, download, 3 objects in Garage, slack
  [ "$(avail_mib "$base")" -ge "$need" ] ||
    die "not enough free disk in $base: $(avail_mib "$base") MiB, need about $need MiB"

  bench_workdir "$base" ssec-bench
  socat_pid=
  bench_extra_cleanup() {
    if [ -n "$socat_pid" ]; then
      kill -TERM -- "-$socat_pid" 2>/dev/null || kill -TERM "$socat_pid" 2>/dev/null || true
      wait "$socat_pid" 2>/dev/null || true
    fi
  }

  # Isolated desktop and AWS settings, as scripts/test.sh has them.
  # shellcheck source=scripts/lib/isolate.sh
  . "$root/scripts/lib/isolate.sh"
  isolate_desktop "$work"
  isolate_aws "$work"
  unset RCLONE_CONFIG
  # aws CLI v1: path-style addressing for Garage; every transfer setting at its default
  # (max_concurrent_requests 10, multipart_threshold 8MB, multipart_chunksize 8MB).
  cat >"$AWS_CONFIG_FILE" <<'EOF2'
[default]
region = garage
s3 =
    addressing_style = path
EOF2

  "$root/scripts/garage-up.sh" "$work/garage"
  # shellcheck source=/dev/null
  . "$work/garage/env"
  garage_port=${SSEC_TEST_ENDPOINT##*:}

  # TLS front for rclone: self-signed certificate for 127.0.0.1, socat on a free port.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" \
    >/dev/null 2>&1 || die "openssl could not make the self-signed certificate"
  tls_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  setsid socat -b 131072 \
    "openssl-listen:$tls_port,bind=127.0.0.1,reuseaddr,fork,cert=$work/tls.crt,key=$work/tls.key,verify=0" \
    "tcp:127.0.0.1:$garage_port" </dev/null >"$work/socat.log" 2>&1 &
  socat_pid=$!
  for i in $(seq 1 100); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
      "$tls_port" 2>/dev/null; then break; fi
    kill -0 "$socat_pid" 2>/dev/null || die "socat exited: $(cat "$work/socat.log")"
    [ "$i" -lt 100 ] || die "socat did not listen on port $tls_port"
    sleep 0.1
  done
  say "TLS front for rclone: https://127.0.0.1:$tls_port -> $SSEC_TEST_ENDPOINT (socat pid $socat_pid)"

  # Measure a private copy: a `cargo build` during the run must not swap the binary.
  cp "$SSEC_BIN" "$work/ssec-manager"
  SSEC_BIN_ORIG=$SSEC_BIN
  SSEC_BIN="$work/ssec-manager"
  export BENCH_SIZE="$SIZE" BENCH_RUNS="$RUNS" BENCH_WORK="$work" BENCH_AWS="$aws" \
    BENCH_TLS_PORT="$tls_port" BENCH_SOCAT_PID="$socat_pid" SSEC_BIN SSEC_BIN_ORIG SSEC_ARGS="${SSEC_ARGS:-}"

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

# CPU seconds (user + system, jiffies -> s) Garage and socat's finished children used so far.
hz=$(getconf CLK_TCK)
proc_cpu() {  # pid, with_children(0/1)
  awk -v c="$2" -v hz="$hz" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; printf "%.2f", t / hz }' "/proc/$1/stat"
}

# Runs one transfer: label, then the command. Records wall seconds, the client's CPU seconds
# and peak RSS (from /usr/bin/time -v), Garage's and socat's CPU seconds during it.
timed() {
  local label=$1; shift
  local tv="$logs/$label.time" out="$logs/$label.log"
  local g0 s0 g1 s1 t0 t1
  g0=$(proc_cpu "$SSEC_TEST_GARAGE_PID" 0); s0=$(proc_cpu "$BENCH_SOCAT_PID" 1)
  t0=$(now)
  if ! /usr/bin/time -v -o "$tv" "$@" >"$out" 2>&1; then
    echo "bench: $label failed: $*" >&2
    tail -n 20 "$out" >&2
    exit 1
  fi
  t1=$(now)
  sleep 0.3   # let socat reap its finished TLS children (their CPU time counts then)
  g1=$(proc_cpu "$SSEC_TEST_GARAGE_PID" 0); s1=$(proc_cpu "$BENCH_SOCAT_PID" 1)
  T_WALL=$(elapsed "$t0" "$t1")
  T_CPU=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tv")
  T_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tv")
  T_GARAGE=$(elapsed "$g0" "$g1")
  T_SOCAT=$(elapsed "$s0" "$s1")
}

median() {  # numbers on stdin; printf format
  sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END { if (NR % 2) printf f, v[(NR + 1) / 2];
    else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

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
ssec key generate bench >"$logs/keygen.log" 2>&1 || { cat "$logs/keygen.log" >&2; exit 1; }
ssec key export bench --out "$W/k.b64" >/dev/null 2>&1
base64 -d "$W/k.b64" >"$W/k.raw"
[ "$(stat -c %s "$W/k.raw")" -eq 32 ] || { echo "bench: exported key is not 32 bytes" >&2; exit 1; }
ssec connection add g --endpoint "$EP" --region garage --path-style >"$logs/conn.log" 2>&1 ||
  { cat "$logs/conn.log" >&2; exit 1; }

# --- rclone: remote from environment variables, SSE-C through the s3 backend options ---
export RCLONE_CONFIG="$W/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
  RCLONE_CONFIG_BENCH_ENV_AUTH=false \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  RCLONE_CONFIG_BENCH_REGION=garage RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true \
  RCLONE_CONFIG_BENCH_ENDPOINT="https://127.0.0.1:$BENCH_TLS_PORT"
export RCLONE_S3_SSE_CUSTOMER_ALGORITHM=AES256
RCLONE_S3_SSE_CUSTOMER_KEY_BASE64=$(tr -d '\r\n' <"$W/k.b64")
export RCLONE_S3_SSE_CUSTOMER_KEY_BASE64
# --ignore-times: rclone otherwise skips an upload whose destination already matches in
# size and time, and runs 2..N would measure nothing.
rclone_flags=(--ca-cert "$W/tls.crt" --ignore-times)
unset AWS_CA_BUNDLE

awsc() { "$aws" --endpoint-url "$EP" "$@"; }
sse_aws=(--sse-c AES256 --sse-c-key "fileb://$W/k.raw")

up() {  # tool
  case $1 in
    ssec) timed "$2" "$SSEC_BIN" upload "$src" "s3://$B/bench/ssec.bin" --key bench \
      --quiet "${ssec_extra[@]}" ;;
    aws) timed "$2" "$aws" --endpoint-url "$EP" s3 cp --only-show-errors "$src" \
      "s3://$B/bench/aws.bin" "${sse_aws[@]}" ;;
    rclone) timed "$2" rclone "${rclone_flags[@]}" copyto "$src" "bench:$B/bench/rclone.bin" ;;
  esac
}
down() {  # tool
  case $1 in
    ssec) timed "$2" "$SSEC_BIN" download "s3://$B/bench/ssec.bin" "$out" \
      --quiet "${ssec_extra[@]}" ;;
    aws) timed "$2" "$aws" --endpoint-url "$EP" s3 cp --only-show-errors \
      "s3://$B/bench/aws.bin" "$out" "${sse_aws[@]}" ;;
    rclone) timed "$2" rclone "${rclone_flags[@]}" copyto "bench:$B/bench/rclone.bin" "$out" ;;
  esac
}

# An object must be SSE-C: HEAD without the key fails, HEAD with the key works.
check_ssec_object() {  # object key
  if awsc s3api head-object --bucket "$B" --key "$1" >"$logs/head-nokey.log" 2>&1; then
    echo "bench: s3://$B/$1 is readable WITHOUT a key: not SSE-C" >&2; exit 1
  fi
  awsc s3api head-object --bucket "$B" --key "$1" --sse-customer-algorithm AES256 \
    --sse-customer-key "fileb://$W/k.raw" >"$logs/head-key.log" 2>&1 ||
    { echo "bench: HEAD of s3://$B/$1 with the key failed:" >&2; cat "$logs/head-key.log" >&2; exit 1; }
}

TOOLS=(ssec aws rclone)
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
    if [ "$run" = 1 ]; then check_ssec_object "bench/$tool.bin"; fi
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "PASS" : "MISS" }'; }

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
echo "          $("$SSEC_TEST_GARAGE_BIN" --version 2>&1 | head -1)"
echo "server:   one local Garage (replication 1, lmdb), $EP"
echo "settings: ssec-manager: ${SSEC_ARGS:-defaults} (plain http to Garage)"
echo "          aws CLI: s3 cp --sse-c AES256 --sse-c-key fileb://KEY; addressing_style=path,"
echo "            otherwise defaults (max_concurrent_requests 10, multipart 8MB/8MB; plain http)"
echo "          rclone: copyto --ignore-times, type s3, provider Other, force_path_style, region garage,"
echo "            --s3-sse-customer-algorithm AES256 --s3-sse-customer-key-base64 KEY,"
echo "            --ca-cert SELF-SIGNED, otherwise defaults; via https through a socat TLS front"
echo "            (socat -b 131072 openssl-listen -> Garage), whose CPU is part of its time"
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
echo "raw wall seconds per run (ssec aws rclone):"
for dir in up down; do
  name=$([ "$dir" = up ] && echo upload || echo download)
  for run in $(seq 1 "$RUNS"); do
    printf '  %-8s run %d: %s %s %s\n' "$name" "$run" "$(sed -n "${run}p" "$logs/ssec-$dir.wall")" \
      "$(sed -n "${run}p" "$logs/aws-$dir.wall")" "$(sed -n "${run}p" "$logs/rclone-$dir.wall")"
  done
done
