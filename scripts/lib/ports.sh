# shellcheck shell=bash
# free_ports N: N distinct free TCP ports on 127.0.0.1 (all chosen before any is released).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
}

# wait_http PORT SECONDS: until something answers HTTP on 127.0.0.1:PORT (any status).
wait_http() {
  local port=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    if python3 - "$port" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
    then return 0; fi
    sleep 0.1
  done
  return 1
}

# write_env DIR SERVER ENDPOINT REGION KEY_ID SECRET PID: DIR/env for the tests (garage-up.sh
# writes the same variables, and Garage's own).
write_env() {
  local dir=$1 server=$2 endpoint=$3 region=$4 key=$5 secret=$6 pid=$7
  cat >"$dir/env" <<ENV
# Environment of the $server test server in $dir.
export SSEC_TEST_SERVER=$server
export SSEC_TEST_ENDPOINT=$endpoint
export SSEC_TEST_REGION=$region
export SSEC_TEST_BUCKET=ssec-test
export SSEC_TEST_BUCKET2=ssec-test2
export AWS_ACCESS_KEY_ID=$key
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=$region
export AWS_DEFAULT_REGION=$region
export AWS_EC2_METADATA_DISABLED=true
export SSEC_TEST_SERVER_PID=$pid
ENV
}

# write_only_env DIR KEY_ID SECRET: credentials that may write the test bucket but not
# read it, added to DIR/env (for the permission tests).
write_only_env() {
  printf 'export SSEC_TEST_WRITE_ONLY_KEY_ID=%s\nexport SSEC_TEST_WRITE_ONLY_SECRET=%s\n' \
    "$2" "$3" >>"$1/env"
}

# write_start DIR [VAR=VALUE...] -- COMMAND...: DIR/start.sh, which starts COMMAND (with the
# variables set) in a session of its own, in the background, logging to DIR/server.log and
# recording its pid in DIR/server.pid; it prints the pid. Used for the first start and by
# tests that kill the server and start it again on the same data and ports.
write_start() {
  local dir=$1; shift
  local envs=() arg
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  {
    echo '#!/bin/sh'
    echo "# Starts the test server of $dir again on its data and ports."
    printf 'cd %q || exit 1
' "$dir"
    printf 'env'
    for arg in "${envs[@]}"; do printf ' %q' "$arg"; done
    printf ' setsid'
    for arg in "$@"; do printf ' %q' "$arg"; done
    printf ' </dev/null >>%q 2>&1 &
' "$dir/server.log"
    printf 'echo $! >%q
' "$dir/server.pid"
    echo 'echo $!'
  } >"$dir/start.sh"
  chmod +x "$dir/start.sh"
}
