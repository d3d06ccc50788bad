# shellcheck shell=bash
# Sourced by bench/transfer.sh, bench/many-files.sh and bench/verify.sh: the parts they
# share. Each script checks its arguments, starts Garage and its measurement inside a private
# D-Bus session with gnome-keyring, and tears everything down on exit, whatever happens.
# Needs `root`. The first half is for the outer part (before the D-Bus session), the second
# ("Inner part") for the measurements.

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# bench_positive NAME VALUE: dies unless VALUE is a positive integer.
bench_positive() {
  case "$2" in '' | *[!0-9]* | 0) die "$1 must be a positive integer (got '$2')" ;; esac
}

# Sets SSEC_BIN (default: the release build in the cache, else the debug build there, with a
# warning) and dies if it is missing.
bench_binary() {
  local target=/var/cache/ssec-manager/target
  if [ -z "${SSEC_BIN:-}" ]; then
    SSEC_BIN=$target/release/ssec-manager
    if [ ! -x "$SSEC_BIN" ] && [ -x "$target/debug/ssec-manager" ]; then
      SSEC_BIN=$target/debug/ssec-manager
      say "WARNING: no release build; measuring the DEBUG build $SSEC_BIN (not representative)"
    fi
  fi
  [ -x "$SSEC_BIN" ] || die "no ssec-manager binary at $SSEC_BIN; build it first with \
\`cargo build --release\` (CARGO_TARGET_DIR=/var/cache/ssec-manager/target) or set SSEC_BIN"
}

# bench_tools TOOL...: dies naming the first one missing.
bench_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "'$tool' not found; run scripts/install-deps.sh first"
  done
}

# bench_apt_install PKG...: installs Debian packages (apt-get; sudo when not root).
bench_apt_install() {
  say "installing Debian package(s) $* (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y --no-install-recommends "$@" >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends "$@" >&2; }
  else
    sudo apt-get install -y --no-install-recommends "$@" >&2
  fi
}

# bench_avail_mib DIR: free MiB on DIR's file system.
bench_avail_mib() { df -Pm "$1" | awk 'NR == 2 { print $4 }'; }

# bench_disk_base: sets $base to $BENCH_TMPDIR (default $TMPDIR or /tmp), or /var/tmp if that
# is a tmpfs: the numbers must come from a disk, not from memory.
bench_disk_base() {
  base=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
  if [ "$(stat -f -c %T "$base")" = tmpfs ]; then
    say "$base is a tmpfs; using /var/tmp instead"
    base=/var/tmp
  fi
  [ "$(stat -f -c %T "$base")" != tmpfs ] || die "$base is a tmpfs too; set BENCH_TMPDIR to a disk"
}

# bench_workdir BASE PREFIX: makes $work under BASE and arms the teardown: the inner
# session's process group, every process group bench_spawn started, anything
# `bench_extra_cleanup` (if the script defines it) stops, Garage under $work/garage, then
# $work itself.
bench_workdir() {
  work=$(mktemp -d "$1/$2.XXXXXX")
  bench_child=
  bench_spawned=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$bench_child" ]; then
    kill -TERM -- "-$bench_child" 2>/dev/null || true
    wait "$bench_child" 2>/dev/null || true
  fi
  local pid
  for pid in "${bench_spawned[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
  "$root/scripts/garage-down.sh" "$work/garage" 2>/dev/null || true
  rm -rf "$work"
  exit "$rc"
}

# bench_inner SCRIPT: runs `SCRIPT --inner` in its own process group inside a private D-Bus
# session with an unlocked gnome-keyring (ssec-manager keeps its keys there), waits for it in
# the background so a signal to this script is handled at once, and exits with its status.
bench_inner() {
  setsid dbus-run-session -- sh -c \
    'printf %s bench-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$@"' \
    sh bash "$1" --inner &
  bench_child=$!
  local rc=0
  wait "$bench_child" || rc=$?
  kill -TERM -- "-$bench_child" 2>/dev/null || true   # a keyring daemon left in the group
  bench_child=
  exit "$rc"
}

# bench_spawn LOG COMMAND...: starts COMMAND in a session (process group) of its own, in the
# background, output to LOG; sets $spawned_pid. The teardown stops the whole group.
bench_spawn() {
  local log=$1; shift
  setsid "$@" </dev/null >"$log" 2>&1 &
  spawned_pid=$!
  bench_spawned+=("$spawned_pid")
}

# bench_wait_port PORT PID LOG WHAT: until something accepts on 127.0.0.1:PORT; dies if PID
# exits first (showing LOG) or after 10 s.
bench_wait_port() {
  local i
  for i in $(seq 1 100); do
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
      "$1" 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || die "$4 exited: $(cat "$3")"
    [ "$i" -lt 100 ] || die "$4 did not listen on port $1"
    sleep 0.1
  done
}

# bench_free_port: one free TCP port on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_tls_front UPSTREAM_PORT: a TLS front for rclone (which refuses SSE-C over plain http):
# a self-signed certificate for 127.0.0.1 ($work/tls.crt) and socat on a free port, forwarding
# to 127.0.0.1:UPSTREAM_PORT. Sets $tls_port and $socat_pid.
bench_tls_front() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" \
    >/dev/null 2>&1 || die "openssl could not make the self-signed certificate"
  tls_port=$(bench_free_port)
  bench_spawn "$work/socat.log" socat -b 131072 \
    "openssl-listen:$tls_port,bind=127.0.0.1,reuseaddr,fork,cert=$work/tls.crt,key=$work/tls.key,verify=0" \
    "tcp:127.0.0.1:$1"
  socat_pid=$spawned_pid
  bench_wait_port "$tls_port" "$socat_pid" "$work/socat.log" socat
  say "TLS front: https://127.0.0.1:$tls_port -> 127.0.0.1:$1 (socat pid $socat_pid)"
}

# bench_relay UPSTREAM_PORT ONE_WAY_MS: the latency relay of ../shared/tools (or
# $LATENCY_RELAY) on a free port, adding ONE_WAY_MS to every chunk each way. Sets $relay_port.
bench_relay() {
  local relay=${LATENCY_RELAY:-$root/../shared/tools/latency-relay.py} log
  [ -f "$relay" ] || die "latency relay not found at $relay (set LATENCY_RELAY, or RELAY_MS=0)"
  relay_port=$(bench_free_port)
  log="$work/relay-$relay_port.log"
  # It stops by itself after SECONDS; the teardown stops it long before a day is over.
  bench_spawn "$log" python3 "$relay" "$relay_port" "$1" "$2" 86400
  bench_wait_port "$relay_port" "$spawned_pid" "$log" "latency relay"
  say "latency relay: 127.0.0.1:$relay_port -> 127.0.0.1:$1, $2 ms each way (pid $spawned_pid)"
}

# bench_isolate: fresh desktop and AWS settings under $work (as scripts/test.sh has them), the
# aws CLI v1 set to path-style addressing for Garage with every transfer setting at its
# default (max_concurrent_requests 10, multipart_threshold 8MB, multipart_chunksize 8MB).
bench_isolate() {
  # shellcheck source=scripts/lib/isolate.sh
  . "$root/scripts/lib/isolate.sh"
  isolate_desktop "$work"
  isolate_aws "$work"
  unset RCLONE_CONFIG
  printf '[default]\nregion = garage\ns3 =\n    addressing_style = path\n' >"$AWS_CONFIG_FILE"
}

##########################################################################################
# Inner part (inside the D-Bus session). Expects $W (work dir), $logs, $SSEC_BIN, and for
# bench_timed SSEC_TEST_GARAGE_PID and (optionally) BENCH_SOCAT_PID.
##########################################################################################

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }   # KiB -> MiB
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN { print (r <= g) ? "PASS" : "MISS" }'; }
median() {  # numbers on stdin; printf format
  sort -g | awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END { if (NR % 2) printf f, v[(NR + 1) / 2];
    else printf f, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# CPU seconds (user + system, jiffies -> s) a process (and its finished children) used so far.
bench_hz=$(getconf CLK_TCK)
proc_cpu() {  # pid, with_children(0/1)
  [ -r "/proc/$1/stat" ] || { echo 0; return; }
  awk -v c="$2" -v hz="$bench_hz" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; printf "%.2f", t / hz }' "/proc/$1/stat"
}

# timed [-s] LABEL COMMAND...: runs one transfer, output to $logs/LABEL.log. Sets T_WALL (s),
# T_CPU (the client's user+system s) and T_RSS (its peak RSS, KiB; both from /usr/bin/time
# -v), T_GARAGE and T_SOCAT (CPU s of Garage and of socat's TLS children during it). A failed
# command ends the script, or with -s returns 1 (T_* then describe the failed run).
timed() {
  local soft=0
  if [ "$1" = -s ]; then soft=1; shift; fi
  local label=$1; shift
  local tv="$logs/$label.time" out="$logs/$label.log" socat=${BENCH_SOCAT_PID:-}
  local g0 s0=0 g1 s1=0 t0 t1 rc=0
  g0=$(proc_cpu "$SSEC_TEST_GARAGE_PID" 0); [ -z "$socat" ] || s0=$(proc_cpu "$socat" 1)
  t0=$(now)
  /usr/bin/time -v -o "$tv" "$@" >"$out" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" -ne 0 ] && [ "$soft" -eq 0 ]; then
    echo "bench: $label failed: $*" >&2
    tail -n 20 "$out" >&2
    exit 1
  fi
  [ -z "$socat" ] || sleep 0.3   # let socat reap its finished TLS children (their CPU time counts then)
  g1=$(proc_cpu "$SSEC_TEST_GARAGE_PID" 0); [ -z "$socat" ] || s1=$(proc_cpu "$socat" 1)
  T_WALL=$(elapsed "$t0" "$t1")
  T_CPU=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tv")
  T_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tv")
  T_GARAGE=$(elapsed "$g0" "$g1")
  T_SOCAT=$(elapsed "$s0" "$s1")
  return $((rc != 0))
}

# bench_ssec_key LABEL: generates an SSE-C key in ssec-manager and exports it for the other
# tools: $W/k.b64 (base64), $W/k.raw (32 bytes), $W/k.md5 (base64 MD5 of the raw key).
bench_ssec_key() {
  "$SSEC_BIN" key generate "$1" >"$logs/keygen.log" 2>&1 || { cat "$logs/keygen.log" >&2; exit 1; }
  "$SSEC_BIN" key export "$1" --out "$W/k.b64" >/dev/null 2>&1
  base64 -d "$W/k.b64" >"$W/k.raw"
  [ "$(stat -c %s "$W/k.raw")" -eq 32 ] || { echo "bench: exported key is not 32 bytes" >&2; exit 1; }
  openssl dgst -md5 -binary "$W/k.raw" | base64 >"$W/k.md5"
}

# bench_ssec_connection NAME ENDPOINT: a path-style connection of the ssec-manager home.
bench_ssec_connection() {
  "$SSEC_BIN" connection add "$1" --endpoint "$2" --region garage --path-style \
    >"$logs/conn-$1.log" 2>&1 || { cat "$logs/conn-$1.log" >&2; exit 1; }
}

# bench_rclone_remote NAME HTTPS_ENDPOINT: an rclone remote NAME (from environment variables:
# type s3, provider Other, path style, region garage, the Garage credentials), trusting
# $work/tls.crt through $rclone_ca. SSE-C for every s3 remote: the environment forms of
# --s3-sse-customer-algorithm AES256 --s3-sse-customer-key-base64 KEY
# --s3-sse-customer-key-md5 MD5 (from bench_ssec_key), which keeps the key out of `ps`.
bench_rclone_remote() {
  local n
  n=$(echo "$1" | tr '[:lower:]' '[:upper:]')
  export RCLONE_CONFIG="$W/rclone.conf"
  [ -f "$RCLONE_CONFIG" ] || : >"$RCLONE_CONFIG"
  export "RCLONE_CONFIG_${n}_TYPE=s3" "RCLONE_CONFIG_${n}_PROVIDER=Other" \
    "RCLONE_CONFIG_${n}_ENV_AUTH=false" \
    "RCLONE_CONFIG_${n}_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" \
    "RCLONE_CONFIG_${n}_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" \
    "RCLONE_CONFIG_${n}_REGION=garage" "RCLONE_CONFIG_${n}_FORCE_PATH_STYLE=true" \
    "RCLONE_CONFIG_${n}_ENDPOINT=$2"
  export RCLONE_S3_SSE_CUSTOMER_ALGORITHM=AES256
  RCLONE_S3_SSE_CUSTOMER_KEY_BASE64=$(tr -d '\r\n' <"$W/k.b64")
  RCLONE_S3_SSE_CUSTOMER_KEY_MD5=$(tr -d '\r\n' <"$W/k.md5")
  export RCLONE_S3_SSE_CUSTOMER_KEY_BASE64 RCLONE_S3_SSE_CUSTOMER_KEY_MD5
  rclone_ca=(--ca-cert "$W/tls.crt")
}

# check_ssec_object ENDPOINT BUCKET KEY: the object must be SSE-C under $W/k.raw: HEAD without
# the key fails, HEAD with it works. Uses $aws (the aws CLI).
check_ssec_object() {
  if "$aws" --endpoint-url "$1" s3api head-object --bucket "$2" --key "$3" \
    >"$logs/head-nokey.log" 2>&1; then
    echo "bench: s3://$2/$3 is readable WITHOUT a key: not SSE-C" >&2; exit 1
  fi
  "$aws" --endpoint-url "$1" s3api head-object --bucket "$2" --key "$3" \
    --sse-customer-algorithm AES256 --sse-customer-key "fileb://$W/k.raw" \
    >"$logs/head-key.log" 2>&1 ||
    { echo "bench: HEAD of s3://$2/$3 with the key failed:" >&2; cat "$logs/head-key.log" >&2; exit 1; }
}
