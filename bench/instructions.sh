#!/usr/bin/env bash
# Instructions per request of release binaries, counted by valgrind (callgrind): the same
# figure on a busy machine as on a quiet one, so small regressions show that a load test on
# a shared VM hides in its noise.
#
# Usage:  bash bench/instructions.sh BIN [BIN...]
#
# For each binary and each endpoint (GET /health/alive; POST /oauth2/token with
# client_credentials and client_secret_basic, the bootstrap client), it starts
# `BIN serve` under callgrind on 127.0.0.1:0 with a fresh SQLite data dir and JSON logs at
# `warn,clavis=info,clavis::access=warn`, sends N requests over one keep-alive connection
# (Python, standard library), stops the server, and does it again with N + 1000. The
# difference divided by 1000 is the server's instructions per request (start-up and
# shutdown cancel out). Every response must be a 200. A binary takes about 2 minutes.
# Needs valgrind (apt-get install -y valgrind) and python3.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: bash bench/instructions.sh BIN [BIN...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install -y valgrind)" >&2; exit 2; }
N=300
ID=bench-admin
SECRET=bench-instructions-secret-0123456789abcdef

WORK="" PID=""
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT

# count BIN KIND REQUESTS: prints the instructions the whole server run took.
count() {
  WORK=$(mktemp -d /tmp/clavis-instr.XXXXXX)
  (
    cd "$WORK"
    while read -r v; do unset "$v"; done < <(compgen -e | grep '^CLAVIS_' || true)
    export CLAVIS_PUBLIC_ADDR=127.0.0.1:0 CLAVIS_ADMIN_ADDR=127.0.0.1:0 CLAVIS_DATA_DIR="$WORK" \
           CLAVIS_BOOTSTRAP_CLIENT_ID=$ID CLAVIS_BOOTSTRAP_CLIENT_SECRET=$SECRET \
           CLAVIS_LOG_FORMAT=json CLAVIS_LOG=warn,clavis=info,clavis::access=warn
    exec valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$1" serve
  ) >/dev/null 2>"$WORK/log" </dev/null &
  PID=$!
  local deadline=$((SECONDS + 120)) addr=""
  until addr=$(grep -o '"public_addr":"127\.0\.0\.1:[0-9]*"' "$WORK/log" | cut -d'"' -f4); [[ -n $addr ]]; do
    kill -0 "$PID" 2>/dev/null || { tail "$WORK/log" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "server did not listen within 120 s" >&2; exit 1; }
    sleep 0.2
  done
  timeout 600 python3 - "$addr" "$2" "$3" "$ID:$SECRET" <<'PY'
import base64, http.client, sys
host, port = sys.argv[1].split(":")
kind, n, basic = sys.argv[2], int(sys.argv[3]), base64.b64encode(sys.argv[4].encode()).decode()
conn = http.client.HTTPConnection(host, int(port), timeout=60)
for _ in range(n):
    if kind == "token":
        conn.request("POST", "/oauth2/token", body="grant_type=client_credentials",
                     headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    else:
        conn.request("GET", "/health/alive")
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        sys.exit(f"{kind}: status {resp.status}")
PY
  kill -TERM "$PID"
  wait "$PID" || true
  PID=""
  sed -n 's/^summary: //p' "$WORK/callgrind.out"
  rm -rf "$WORK"
  WORK=""
}

echo "| binary | alive instructions/request | token instructions/request |"
echo "|---|---:|---:|"
for bin in "$@"; do
  [[ -x $bin ]] || { echo "$bin is not an executable file" >&2; exit 2; }
  row="| \`$bin\`"
  for kind in alive token; do
    small=$(count "$bin" "$kind" "$N")
    large=$(count "$bin" "$kind" $((N + 1000)))
    row+=" | $(( (large - small) / 1000 ))"
  done
  echo "$row |"
done
