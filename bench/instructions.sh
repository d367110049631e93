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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START_TIMEOUT=120
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
COUNTS=$(mktemp /tmp/clavis-callgrind.XXXXXX)
trap 'stop_server; rm -f "$COUNTS"' EXIT

# count BIN KIND REQUESTS: sets INSTRUCTIONS to what the whole server run took. (Not a
# command substitution: the EXIT trap must see the server to stop it.)
count() {
  : >"$COUNTS"   # a run that ends without writing its counts must not read the last run's
  start_server valgrind --tool=callgrind --callgrind-out-file="$COUNTS" "$1"
  timeout 600 python3 - "$PUBLIC" "$2" "$3" "$ID:$SECRET" <<'PY'
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
  stop_server
  INSTRUCTIONS=$(sed -n 's/^summary: //p' "$COUNTS")
  [[ $INSTRUCTIONS =~ ^[0-9]+$ ]] || { echo "callgrind wrote no summary" >&2; exit 1; }
}

echo "| binary | alive instructions/request | token instructions/request |"
echo "|---|---:|---:|"
for bin in "$@"; do
  [[ -x $bin ]] || { echo "$bin is not an executable file" >&2; exit 2; }
  row="| \`$bin\`"
  for kind in alive token; do
    count "$bin" "$kind" "$N"
    small=$INSTRUCTIONS
    count "$bin" "$kind" $((N + 1000))
    row+=" | $(( (INSTRUCTIONS - small) / 1000 ))"
  done
  echo "$row |"
done
