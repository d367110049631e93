# Shared by bench/ab.sh and bench/instructions.sh (sourced): one `clavis serve` at a time
# on 127.0.0.1:0, with a fresh SQLite data dir, only the CLAVIS_* settings given here, the
# caller's bootstrap client ($ID, $SECRET) and JSON logs at
# `warn,clavis=info,clavis::access=warn` (nothing logged per request).

SERVER_WORK="" SERVER_PID="" PUBLIC=""
# Seconds to wait for the "clavis listening" line (longer under valgrind).
START_TIMEOUT=${START_TIMEOUT:-60}

# start_server CMD...: runs `CMD... serve` in a new temp dir and waits until it listens;
# sets SERVER_WORK, SERVER_PID and PUBLIC (host:port). CMD is the binary, or a wrapper
# such as valgrind followed by the binary.
start_server() {
  SERVER_WORK=$(mktemp -d /tmp/clavis-bench.XXXXXX)
  (
    cd "$SERVER_WORK"
    while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLAVIS_' || true)
    export CLAVIS_PUBLIC_ADDR=127.0.0.1:0 CLAVIS_ADMIN_ADDR=127.0.0.1:0 CLAVIS_DATA_DIR="$SERVER_WORK" \
           CLAVIS_BOOTSTRAP_CLIENT_ID=$ID CLAVIS_BOOTSTRAP_CLIENT_SECRET=$SECRET \
           CLAVIS_LOG_FORMAT=json CLAVIS_LOG=warn,clavis=info,clavis::access=warn
    # The default tenant's signing keys are made first, by the binary itself (the last
    # word of CMD) without any wrapper: under valgrind two RSA key generations would take
    # longer than a request may.
    "${@: -1}" keys list --tenant default >/dev/null
    exec "$@" serve
  ) >"$SERVER_WORK/out" 2>"$SERVER_WORK/log" </dev/null &
  SERVER_PID=$!
  local deadline=$((SECONDS + START_TIMEOUT)) line
  until line=$(grep -m1 '"message":"clavis listening"' "$SERVER_WORK/log"); do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail "$SERVER_WORK/log" >&2; echo "server exited" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "server did not listen within $START_TIMEOUT s" >&2; exit 1; }
    sleep 0.1
  done
  PUBLIC=$(sed -n 's/.*"public_addr":"\([^"]*\)".*/\1/p' <<<"$line")
  [[ $PUBLIC =~ ^127\.0\.0\.1:[0-9]+$ ]] || { echo "unexpected public address '$PUBLIC'" >&2; exit 1; }
}

# stop_server: SIGTERM, up to 60 s to finish (valgrind writes its counts then), else
# SIGKILL; removes the data dir. Safe to call when nothing runs (the scripts' EXIT trap).
stop_server() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    timeout 60 tail --pid="$SERVER_PID" -f /dev/null 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  [[ -n $SERVER_WORK ]] && rm -rf "$SERVER_WORK"
  SERVER_WORK=""
  return 0
}
