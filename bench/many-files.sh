#!/usr/bin/env bash
# Usage: bench/many-files.sh [--markdown]
#
# Many-files benchmark of ssec-manager against the aws CLI and rclone, all three with SSE-C,
# against ONE fresh local Garage (scripts/garage-up.sh). Two data sets: N_SMALL files of
# SMALL_KIB KiB in SMALL_DIRS nested folders, and N_BIG files of BIG_MIB MiB. For each set,
# each tool in turn (ssec, aws, rclone), every run into a fresh prefix or folder:
#   upload          ssec-manager upload DIR s3://B/P/ --key K --connection C -q
#                   aws s3 cp --recursive DIR s3://B/P/ --sse-c AES256 --sse-c-key fileb://KEY
#                   rclone copy DIR REMOTE:B/P
#   download        ssec-manager download s3://B/P/ OUT --connection C -q
#                   aws s3 cp --recursive s3://B/P/ OUT --sse-c ...;  rclone copy REMOTE:B/P OUT
#   no-change sync  ssec-manager sync DIR s3://B/P/ --key K -q   (the tool's own upload)
#                   aws s3 sync DIR s3://B/P/ --sse-c ...;  rclone sync DIR REMOTE:B/P
# all of it twice: direct, and through ../shared/tools/latency-relay.py (RELAY_MS each way).
# Checks: after an upload the prefix lists exactly the local files and sizes, and one object
# is refused by HEAD without the key and accepted with it; every download is compared with
# the source file by file (diff -r); after a sync the prefix still lists the local files, and
# whether the sync rewrote anything (ETag or Last-Modified changed) is reported. A failed
# check fails the script. A command this build of ssec-manager does not have (folder
# download, sync: being added) is reported as "not available in this build" and skipped.
# Prints a table (case, tool, seconds, peak RSS, ratio to the aws CLI) and the goals for
# ssec-manager's rows: upload and download <= 0.5 x aws, no-change sync <= 0.2 x aws s3 sync
# and < 3 s, peak RSS <= 200 MiB. --markdown prints the table as Markdown (for docs/).
# Builds nothing: it measures ${SSEC_BIN:-/var/cache/ssec-manager/target/release/ssec-manager}
# (else the debug build there).
#
# Environment:
#   N_SMALL (5000), SMALL_KIB (16), SMALL_DIRS (50), N_BIG (200), BIG_MIB (5): the data sets;
#                  N_SMALL=300 N_BIG=10 is a quick run
#   RELAY_MS       one-way delay of the latency relay in ms (20 = 40 ms round trip); 0 = no
#                  relay pass. LATENCY_RELAY: the relay script (default ../shared/tools/...)
#   SSEC_BIN       the ssec-manager binary to measure
#   SSEC_ARGS      extra flags for ssec-manager upload/download (an experiment)
#   BENCH_TMPDIR   where the files and Garage's data go (never a tmpfs; default $TMPDIR or /tmp)
#
# rclone refuses SSE-C over plain http, so it talks to Garage through a TLS front (socat,
# self-signed certificate); through the relay it is rclone -> relay -> socat -> Garage, while
# ssec-manager and the aws CLI speak plain http to Garage or to the relay. Progress goes to
# stderr, the report to stdout. Everything (Garage, socat, relays, keyring session, temp
# files) is torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
self="$here/$(basename "$0")"

# shellcheck source=scripts/lib/bench.sh
. "$root/scripts/lib/bench.sh"

if [ "${1:-}" != "--inner" ]; then
  ##########################################################################################
  # Outer part: checks, temp dir, Garage, TLS front, relays; then the measurements run
  # inside a private D-Bus session with gnome-keyring (ssec-manager keeps its keys there).
  ##########################################################################################
  MARKDOWN=0
  case "${1:-}" in
    '') ;;
    --markdown) MARKDOWN=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (usage: bench/many-files.sh [--markdown])" ;;
  esac
  N_SMALL=${N_SMALL:-5000}; SMALL_KIB=${SMALL_KIB:-16}; SMALL_DIRS=${SMALL_DIRS:-50}
  N_BIG=${N_BIG:-200}; BIG_MIB=${BIG_MIB:-5}; RELAY_MS=${RELAY_MS:-20}
  for v in N_SMALL SMALL_KIB SMALL_DIRS N_BIG BIG_MIB; do bench_positive "$v" "${!v}"; done
  case "$RELAY_MS" in '' | *[!0-9]*) die "RELAY_MS must be a whole number of ms (got '$RELAY_MS')" ;; esac
  bench_binary

  command -v rclone >/dev/null || bench_apt_install rclone
  [ -x /usr/bin/time ] || bench_apt_install time
  command -v socat >/dev/null || bench_apt_install socat
  bench_tools dbus-run-session gnome-keyring-daemon python3 openssl socat rclone diff

  aws=$("$root/scripts/ensure-awscli.sh")
  export GARAGE_BIN
  GARAGE_BIN=$("$root/scripts/ensure-garage.sh")

  bench_disk_base
  set_mib=$(( (N_SMALL * SMALL_KIB + 1023) / 1024 + N_BIG * BIG_MIB ))
  passes=$([ "$RELAY_MS" -gt 0 ] && echo 2 || echo 1)
  need=$(( set_mib * (3 * passes + 2) + 1024 ))   # sources, objects, one download, slack
  [ "$(bench_avail_mib "$base")" -ge "$need" ] ||
    die "not enough free disk in $base: $(bench_avail_mib "$base") MiB, need about $need MiB"

  bench_workdir "$base" ssec-many
  bench_isolate
  "$root/scripts/garage-up.sh" "$work/garage"
  # shellcheck source=/dev/null
  . "$work/garage/env"
  garage_port=${SSEC_TEST_ENDPOINT##*:}
  bench_tls_front "$garage_port"
  relay_http= relay_tls=
  if [ "$RELAY_MS" -gt 0 ]; then
    bench_relay "$garage_port" "$RELAY_MS"; relay_http=$relay_port   # ssec-manager, aws CLI
    bench_relay "$tls_port" "$RELAY_MS"; relay_tls=$relay_port       # rclone (TLS inside)
  fi

  # Measure a private copy: a `cargo build` during the run must not swap the binary.
  cp "$SSEC_BIN" "$work/ssec-manager"
  SSEC_BIN_ORIG=$SSEC_BIN
  SSEC_BIN="$work/ssec-manager"
  export BENCH_WORK="$work" BENCH_AWS="$aws" BENCH_TLS_PORT="$tls_port" \
    BENCH_SOCAT_PID="$socat_pid" BENCH_RELAY_HTTP="$relay_http" BENCH_RELAY_TLS="$relay_tls" \
    BENCH_MARKDOWN="$MARKDOWN" N_SMALL SMALL_KIB SMALL_DIRS N_BIG BIG_MIB RELAY_MS \
    SSEC_BIN SSEC_BIN_ORIG SSEC_ARGS="${SSEC_ARGS:-}"
  bench_inner "$self"
fi

##########################################################################################
# Inner part: runs inside the D-Bus session; the outer trap tears everything down.
##########################################################################################
W=$BENCH_WORK
aws=$BENCH_AWS
EP=$SSEC_TEST_ENDPOINT
B=$SSEC_TEST_BUCKET
logs="$W/logs"
mkdir -p "$logs" "$W/data" "$W/out"
read -r -a ssec_extra <<<"${SSEC_ARGS:-}"
export SSEC_MANAGER_HOME="$W/home"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the key, the connections (ssec-manager), the remotes (rclone) ---
bench_ssec_key bench
bench_ssec_connection direct "$EP"
bench_rclone_remote direct "https://127.0.0.1:$BENCH_TLS_PORT"
MODES=(direct)
declare -A AWS_EP=([direct]=$EP)
if [ -n "$BENCH_RELAY_HTTP" ]; then
  MODES+=(relay)
  AWS_EP[relay]="http://127.0.0.1:$BENCH_RELAY_HTTP"
  bench_ssec_connection relay "${AWS_EP[relay]}"
  bench_rclone_remote relay "https://127.0.0.1:$BENCH_RELAY_TLS"
fi
unset AWS_CA_BUNDLE
sse_aws=(--sse-c AES256 --sse-c-key "fileb://$W/k.raw")

# --- what this build of ssec-manager can do ---
ssec_sync=0 ssec_sync_conn=0
if "$SSEC_BIN" sync --help >"$logs/sync-help.txt" 2>&1; then
  ssec_sync=1
  if grep -q -- --connection "$logs/sync-help.txt"; then ssec_sync_conn=1; fi
fi

# --- the data sets ---
say "writing the data sets: $N_SMALL x $SMALL_KIB KiB in $SMALL_DIRS folders, $N_BIG x $BIG_MIB MiB"
python3 - "$W/data" "$N_SMALL" "$SMALL_KIB" "$SMALL_DIRS" "$N_BIG" "$BIG_MIB" <<'PY'
import os, sys
base, n_small, small_kib, dirs, n_big, big_mib = sys.argv[1], *map(int, sys.argv[2:])
for i in range(n_small):   # leaf folder j of `dirs`: dJJ/sK, 5 leaves under each top folder
    j = i % dirs
    d = os.path.join(base, "small", "d%02d" % (j // 5), "s%d" % (j % 5))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(small_kib * 1024))
os.makedirs(os.path.join(base, "big"), exist_ok=True)
for i in range(n_big):
    with open(os.path.join(base, "big", "b%04d.bin" % i), "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1 << 20))
PY
sync

# --- checks ---
local_list() { (cd "$1" && find . -type f -printf '%P\t%s\n' | LC_ALL=C sort); }
# remote_list PREFIX [full]: "relative key<TAB>size" (full: also ETag and Last-Modified).
remote_list() {
  "$aws" --endpoint-url "$EP" s3api list-objects-v2 --bucket "$B" --prefix "$1" --output text \
    --query 'Contents[].[Key,Size,ETag,LastModified]' >"$logs/list.raw"
  awk -F'\t' -v p="$1" -v full="${2:-}" '$1 != "None" { sub("^" p, "", $1);
    if (full) print $1 "\t" $2 "\t" $3 "\t" $4; else print $1 "\t" $2 }' "$logs/list.raw" |
    LC_ALL=C sort
}
check_listing() {  # what, local dir, prefix
  if ! diff <(local_list "$2") <(remote_list "$3") >"$logs/listing.diff"; then
    echo "bench: $1: s3://$B/$3 does not list exactly the files of $2:" >&2
    head -n 20 "$logs/listing.diff" >&2; exit 1
  fi
}
check_tree() {  # what, source dir, downloaded dir
  if ! diff -r -q "$2" "$3" >"$logs/tree.diff" 2>&1; then
    echo "bench: $1: $3 differs from $2:" >&2; head -n 20 "$logs/tree.diff" >&2; exit 1
  fi
}
has_files() { [ -d "$1" ] && [ -n "$(find "$1" -type f -print -quit)" ]; }

# --- one measurement -> a row of $W/rows.tsv: mode set op tool seconds rss_kib note ---
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$W/rows.tsv"; }
: >"$W/rows.tsv"

run_case() {  # mode set op tool
  local mode=$1 set=$2 op=$3 tool=$4
  local src="$W/data/$set" prefix="mf/$mode/$set/$tool/" label="$mode-$set-$op-$tool"
  local ep=${AWS_EP[$mode]} out="$W/out/$label" note= first err
  local conn=(--connection "$mode")
  case "$op-$tool" in
    upload-ssec) timed "$label" "$SSEC_BIN" upload "$src" "s3://$B/$prefix" --key bench "${conn[@]}" \
      -q "${ssec_extra[@]}" ;;
    upload-aws) timed "$label" "$aws" --endpoint-url "$ep" s3 cp --recursive --only-show-errors \
      "$src" "s3://$B/$prefix" "${sse_aws[@]}" ;;
    upload-rclone) timed "$label" rclone "${rclone_ca[@]}" copy "$src" "$mode:$B/${prefix%/}" ;;
    download-ssec)
      if ! timed -s "$label" "$SSEC_BIN" download "s3://$B/$prefix" "$out" "${conn[@]}" -q \
        "${ssec_extra[@]}"; then
        has_files "$out" && { echo "bench: $label failed after writing files:" >&2;
          tail -n 20 "$logs/$label.log" >&2; exit 1; }
        err=$(grep -m1 -i 'error' "$logs/$label.log" || head -n1 "$logs/$label.log")
        say "$label: ssec-manager: not available in this build ($err)"
        row "$mode" "$set" "$op" "$tool" NA 0 "not available in this build: $err"
        return 0
      fi ;;
    download-aws) timed "$label" "$aws" --endpoint-url "$ep" s3 cp --recursive --only-show-errors \
      "s3://$B/$prefix" "$out" "${sse_aws[@]}" ;;
    download-rclone) timed "$label" rclone "${rclone_ca[@]}" copy "$mode:$B/${prefix%/}" "$out" ;;
    sync-ssec)
      if [ "$ssec_sync" = 0 ] || { [ "$ssec_sync_conn" = 0 ] && [ "$mode" != direct ]; }; then
        note=$([ "$ssec_sync" = 0 ] && echo "no 'sync' command" || echo "sync has no --connection")
        say "$label: ssec-manager: not available in this build ($note)"
        row "$mode" "$set" "$op" "$tool" NA 0 "not available in this build: $note"
        return 0
      fi
      [ "$ssec_sync_conn" = 1 ] || conn=()
      remote_list "$prefix" full >"$logs/$label.before"
      timed "$label" "$SSEC_BIN" sync "$src" "s3://$B/$prefix" --key bench "${conn[@]}" -q ;;
    sync-aws) remote_list "$prefix" full >"$logs/$label.before"
      timed "$label" "$aws" --endpoint-url "$ep" s3 sync --only-show-errors "$src" "s3://$B/$prefix" \
        "${sse_aws[@]}" ;;
    sync-rclone) remote_list "$prefix" full >"$logs/$label.before"
      timed "$label" rclone "${rclone_ca[@]}" sync "$src" "$mode:$B/${prefix%/}" ;;
  esac
  case $op in
    upload)
      check_listing "$label" "$src" "$prefix"
      remote_list "$prefix" >"$logs/$label.list"   # (a file: head in a pipe would SIGPIPE sort)
      first=$(head -n1 "$logs/$label.list" | cut -f1)
      check_ssec_object "$EP" "$B" "$prefix$first" ;;
    download)
      check_tree "$label" "$src" "$out"
      rm -rf "$out" ;;
    sync)
      check_listing "$label" "$src" "$prefix"
      local changed
      remote_list "$prefix" full >"$logs/$label.after"
      changed=$(diff "$logs/$label.after" "$logs/$label.before" | grep -c '^<' || true)
      [ "$changed" -eq 0 ] || note="rewrote $changed object(s)" ;;
  esac
  sync   # one tool's dirty pages must not slow the next one down
  say "$label: ${T_WALL}s, peak RSS $(mib "$T_RSS") MiB${note:+; $note}"
  row "$mode" "$set" "$op" "$tool" "$T_WALL" "$T_RSS" "$note"
}

TOOLS=(ssec aws rclone)
SETS=(small big)
for mode in "${MODES[@]}"; do
  for set in "${SETS[@]}"; do
    for op in upload download sync; do
      for tool in "${TOOLS[@]}"; do run_case "$mode" "$set" "$op" "$tool"; done
      # No folder download in this build: check ssec-manager's upload with the aws CLI.
      if [ "$op" = download ] && awk -F'\t' -v m="$mode" -v s="$set" \
        '$1 == m && $2 == s && $3 == "download" && $4 == "ssec" && $5 == "NA" { f = 1 } END { exit !f }' \
        "$W/rows.tsv"; then
        say "$mode $set: checking ssec-manager's upload with an (untimed) aws CLI download"
        "$aws" --endpoint-url "$EP" s3 cp --recursive --only-show-errors "s3://$B/mf/$mode/$set/ssec/" \
          "$W/out/check" "${sse_aws[@]}" >"$logs/check.log" 2>&1 ||
          { cat "$logs/check.log" >&2; exit 1; }
        check_tree "$mode-$set-ssec-upload (via aws)" "$W/data/$set" "$W/out/check"
        rm -rf "$W/out/check"
      fi
    done
  done
done
rm -rf "$W/data"

##########################################################################################
# Report (stdout)
##########################################################################################
md=$BENCH_MARKDOWN
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
fs=$(df -PT "$W" | awk 'NR == 2 { print $2 " on " $1 }')
small_desc="$N_SMALL x $SMALL_KIB KiB in $(( N_SMALL < SMALL_DIRS ? N_SMALL : SMALL_DIRS )) folders"
big_desc="$N_BIG x $BIG_MIB MiB"
[ "$md" = 1 ] && echo '```'
echo "ssec-manager many-files benchmark, SSE-C everywhere, one run per case"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs ($cpu_model), Linux $(uname -r), files on $fs"
echo "          load average at start: $load_start (1, 5, 15 min)"
echo "versions: $("$SSEC_BIN" --version) ($SSEC_BIN_ORIG, built $(date -u -r "$SSEC_BIN_ORIG" '+%Y-%m-%d %H:%M UTC'))"
echo "          $("$aws" --version 2>&1)"
echo "          $(rclone version | head -1)"
echo "          $("$SSEC_TEST_GARAGE_BIN" --version 2>&1 | head -1)"
echo "data:     small = $small_desc; big = $big_desc (random)"
echo "server:   one local Garage (replication 1, lmdb), $EP"
if [ "${#MODES[@]}" -gt 1 ]; then
  echo "relay:    latency-relay.py, $RELAY_MS ms each way ($((2 * RELAY_MS)) ms round trip), no bandwidth cap"
fi
echo "settings: ssec-manager ${SSEC_ARGS:-defaults}; aws CLI defaults (path style, 10 requests in"
echo "          flight); rclone defaults (4 transfers, 8 checkers; https via socat TLS front)"
echo "checks:   uploads list exactly the local files and sizes, one object per upload refused"
echo "          without the key; downloads diff -r against the source; syncs list the files"
[ "$md" = 1 ] && echo '```'
echo

# ratio to the aws CLI and the goals, for ssec-manager's rows
awk -F'\t' -v md="$md" -v small="$small_desc" -v big="$big_desc" '
  { key = $1 SUBSEP $2 SUBSEP $3; n++; m[n] = $1; s[n] = $2; o[n] = $3; t[n] = $4; sec[n] = $5;
    rss[n] = $6; note[n] = $7; if ($4 == "aws") aws[key] = $5 }
  function line(a, b, c, d, e, f, g, h) {
    if (md) printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", a, b, c, d, e, f, g, h
    else printf "%-22s %-6s %8s %8s %6s  %-25s %-4s  %s\n", a, b, c, d, e, f, g, h }
  END {
    line("case", "tool", "seconds", "RSS MiB", "x aws", "goal (ssec-manager rows)", "met", "note")
    if (md) print "|---|---|---:|---:|---:|---|---|---|"
    pass = miss = na = 0
    for (i = 1; i <= n; i++) {
      c = s[i] " " o[i] " " m[i]; key = m[i] SUBSEP s[i] SUBSEP o[i]
      if (sec[i] == "NA") {
        line(c, t[i], "-", "-", "-", "", t[i] == "ssec" ? "-" : "", note[i]); if (t[i] == "ssec") na++; continue }
      r = (key in aws && aws[key] != "NA" && aws[key] > 0) ? sec[i] / aws[key] : -1
      mb = rss[i] / 1024; goal = ""; v = ""
      if (t[i] == "ssec") {
        why = ""
        if (o[i] == "sync") { goal = "<=0.20x, <3 s, <=200 MiB"; lim = 0.20
          if (sec[i] >= 3) why = why " time" }
        else { goal = "<=0.50x, <=200 MiB"; lim = 0.50 }
        if (r < 0 || r > lim) why = why " ratio"
        if (mb > 200) why = why " RSS"
        v = (why == "") ? "PASS" : "MISS"; if (v == "PASS") pass++; else miss++
        if (why != "") note[i] = (note[i] == "" ? "" : note[i] "; ") "missed:" why
      }
      line(c, t[i], sprintf("%.2f", sec[i]), sprintf("%.1f", mb), r < 0 ? "-" : sprintf("%.2f", r),
        goal, v, note[i])
    }
    print ""
    printf "goals (ssec-manager rows): %d PASS, %d MISS, %d not available in this build\n", pass, miss, na
    print "  upload, download: <= 0.50 x the aws CLI; no-change sync: <= 0.20 x aws s3 sync and < 3 s;"
    print "  peak RSS (/usr/bin/time -v, the client process) <= 200 MiB in every row"
    printf "  small = %s, big = %s\n", small, big
  }' "$W/rows.tsv"
