#!/usr/bin/env bash
# Tokens over many distinct clients (issue 14, part 6): one tenant grown to each size with
# confidential client_credentials clients (through `clavis client import`, Hydra lines with
# SHA-256 secret hashes), then, against a fresh `clavis serve` on 127.0.0.1:
#   - single: every request by one client (the baseline of the same run),
#   - many:   every request by a client picked at random among all of them,
# each with wrk (2 threads, 32 connections) for SECS seconds after SECS/2 of warm-up by the
# same mix, reporting tokens/s, many/single, and the server's RSS after each phase.
#
# Usage: bash bench/many.sh [SECS] [SIZE...]     (default 10 s; 1000 100000)
# BENCH_ROUNDS=N (default 1) alternates the two phases N times on the same server and reports
# the median of each: runs on a shared two-core machine vary by ±15 %, a median of 3–5 less.
# Environment: CLAVIS_BENCH_DB=postgres://…@127.0.0.1… (else SQLite), CLAVIS_BENCH_BIN=path,
# CLAVIS_BENCH_PERF=single|many (a perf profile of that phase in bench/results/many-PHASE.perf.data).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-10}; shift || true
SIZES=("${@:-1000 100000}"); read -r -a SIZES <<<"${SIZES[*]}"
BIN=${CLAVIS_BENCH_BIN:-$ROOT/target/release/clavis}
[[ -n ${CLAVIS_BENCH_BIN:-} ]] || cargo build --release -q -p clavis --bin clavis
command -v wrk >/dev/null || { echo "wrk is required (see bench/run.sh)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/clavis-many.XXXXXX)
SERVER=""
cleanup() { [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
DB=${CLAVIS_BENCH_DB:-sqlite://$WORK/many.db}
if [[ $DB == postgres* ]]; then
  host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$DB")
  [[ $host == 127.0.0.1 || $host == localhost ]] || { echo "CLAVIS_BENCH_DB must point at 127.0.0.1" >&2; exit 2; }
fi
export CLAVIS_DATABASE_URL=$DB CLAVIS_DATA_DIR=$WORK CLAVIS_PUBLIC_ADDR=127.0.0.1:0 CLAVIS_ADMIN_ADDR=127.0.0.1:0 \
       CLAVIS_LOG_FORMAT=json CLAVIS_LOG=warn,clavis=info,clavis::access=warn
export BENCH_LUA_DIR=$ROOT/bench/lua
mkdir -p bench/results
OUT=bench/results/many.md
ROUNDS=${BENCH_ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9]$ ]] || { echo "BENCH_ROUNDS must be 1..9" >&2; exit 2; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rss_mib() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }
phase() { # name creds-file -> prints rps
  BENCH_MANY_FILE=$2 timeout $((SECS * 2 + 30)) wrk -t2 -c32 -d"$((SECS / 2 > 0 ? SECS / 2 : 1))s" -s bench/lua/many.lua "http://$PUBLIC/t/acme/oauth2/token" >/dev/null
  local kv perf_pid=""
  if [[ ${CLAVIS_BENCH_PERF:-} == "$1" ]]; then
    perf record -q -F 1999 -g -p "$SERVER" -o "bench/results/many-$1.perf.data" -- sleep "$SECS" 2>/dev/null &
    perf_pid=$!
  fi
  kv=$(BENCH_MANY_FILE=$2 timeout $((SECS + 30)) wrk -t2 -c32 -d"${SECS}s" --timeout 5s -s bench/lua/many.lua "http://$PUBLIC/t/acme/oauth2/token" | grep -m1 '^BENCH ')
  [[ -n $perf_pid ]] && { wait "$perf_pid" || true; }
  [[ $kv == *" unexpected=0 "* && $kv == *"err_connect=0 err_read=0 err_write=0 err_status=0 err_timeout=0" ]] || { echo "$1: errors: $kv" >&2; exit 1; }
  sed 's/.* rps=\([0-9.]*\).*/\1/' <<<"$kv"
}

"$BIN" migrate >/dev/null
"$BIN" tenant create acme >/dev/null
have=0
{
  echo "| clients | single tokens/s | many tokens/s | many / single | RSS after single | RSS after many |"
  echo "|---|---|---|---|---|---|"
} >"$OUT.tmp"
for size in "${SIZES[@]}"; do
  python3 - "$have" "$size" "$WORK/lines.jsonl" "$WORK/creds.txt" <<'PY'
import base64, hashlib, json, sys
have, size, lines, creds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(lines, "w") as f:
    for i in range(have, size):
        secret = f"many-bench-secret-{i:07d}-0123456789abcdef"
        f.write(json.dumps({"client_id": f"svc-{i:07d}", "grant_types": ["client_credentials"], "scope": "read",
                            "token_endpoint_auth_method": "client_secret_basic",
                            "hydra_secret_hashes": ["sha256$" + hashlib.sha256(secret.encode()).hexdigest()]}) + "\n")
with open(creds, "w") as f:
    for i in range(size):
        f.write(base64.b64encode(f"svc-{i:07d}:many-bench-secret-{i:07d}-0123456789abcdef".encode()).decode() + "\n")
PY
  "$BIN" client import --tenant acme "$WORK/lines.jsonl" >/dev/null
  head -1 "$WORK/creds.txt" >"$WORK/one.txt"
  have=$size
  "$BIN" serve >/dev/null 2>"$WORK/server.log" </dev/null &
  SERVER=$!
  for _ in $(seq 600); do grep -q '"clavis listening"' "$WORK/server.log" && break; sleep 0.1; done
  PUBLIC=$(grep -m1 '"clavis listening"' "$WORK/server.log" | sed -n 's/.*"public_addr":"\([^"]*\)".*/\1/p')
  [[ -n $PUBLIC ]] || { echo "the server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }
  singles=(); manys=()
  for _ in $(seq "$ROUNDS"); do
    singles+=("$(phase single "$WORK/one.txt")"); rss_single=$(rss_mib)
    manys+=("$(phase many "$WORK/creds.txt")"); rss_many=$(rss_mib)
  done
  single=$(median "${singles[@]}"); many=$(median "${manys[@]}")
  ((ROUNDS == 1)) || echo "$size clients: single ${singles[*]}, many ${manys[*]}" >&2
  printf '| %s | %.0f | %.0f | %.2f | %s MiB | %s MiB |\n' "$size" "$single" "$many" "$(awk -v a="$many" -v b="$single" 'BEGIN { print a / b }')" "$rss_single" "$rss_many" | tee -a "$OUT.tmp"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
mv "$OUT.tmp" "$OUT"
echo "written to $OUT"
