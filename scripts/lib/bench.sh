# shellcheck shell=bash
# Sourced by bench/transfer.sh and bench/verify.sh: the outer part they share. Each script
# checks its arguments, starts Garage and its measurement inside a private D-Bus session
# with gnome-keyring, and tears everything down on exit, whatever happens. Needs `root`.

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# bench_positive NAME VALUE: dies unless VALUE is a positive integer.
bench_positive() {
  case "$2" in '' | *[!0-9]* | 0) die "$1 must be a positive integer (got '$2')" ;; esac
}

# Sets SSEC_BIN (default: the release build in the cache) and dies if it is missing.
bench_binary() {
  SSEC_BIN=${SSEC_BIN:-/var/cache/ssec-manager/target/release/ssec-manager}
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

# bench_workdir BASE PREFIX: makes $work under BASE and arms the teardown: the inner
# session's process group, anything `bench_extra_cleanup` (if the script defines it) stops,
# Garage under $work/garage, then $work itself.
bench_workdir() {
  work=$(mktemp -d "$1/$2.XXXXXX")
  bench_child=
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
