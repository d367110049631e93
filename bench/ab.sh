#!/usr/bin/env bash
# A/B of two release binaries in one invocation: the same loopback load on each, alternated,
# so that whatever else the machine does affects both alike.
#
# Usage:  bash bench/ab.sh BASELINE_BIN CANDIDATE_BIN [rounds] [seconds]
#         (rounds default 3, seconds per wrk run default 5)
#
# Each round starts BASELINE then CANDIDATE, each with a fresh SQLite data dir on
# 127.0.0.1:0, and runs on it, with wrk (2 threads, 32 connections):
#   alive  GET  /health/alive                      (bench/lua/alive.lua)
#   token  POST /oauth2/token, client_credentials  (bench/lua/token.lua; the bootstrap client)
# It prints requests/s and server CPU µs per request for every run, then the medians and the
# candidate/baseline ratios. Any non-200 response or socket error fails the run. Servers
# are stopped and temp dirs removed whatever happens.
#
# Build the baseline binary in a worktree sharing the target dir, and copy it away:
#   git worktree add /tmp/wt-base <rev> && (cd /tmp/wt-base && CARGO_TARGET_DIR=$PWD/target \
#     cargo build --release -p clavis) && cp target/release/clavis /tmp/clavis-base
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: bash bench/ab.sh BASELINE_BIN CANDIDATE_BIN [rounds] [seconds]" >&2; exit 2; }
BASE=$1 CAND=$2 ROUNDS=${3:-3} SECS=${4:-5}
[[ -x $BASE && -x $CAND ]] || { echo "both binaries must be executable files" >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]?$ && $SECS =~ ^[1-9][0-9]{0,2}$ ]] || { echo "rounds 1..99, seconds 1..999" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install -y wrk)" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BENCH_LUA_DIR=$ROOT/bench/lua
ID=bench-admin
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
BENCH_BASIC=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)
export BENCH_BASIC
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
trap stop_server EXIT

cpu() { awk -v t="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.4f\n", ($12 + $13) / t }' "/proc/$SERVER_PID/stat"; }

# load SCRIPT PATH: prints "rps us_per_req".
load() {
  local c0 c1 out
  c0=$(cpu)
  out=$(timeout $((SECS + 30)) wrk -t2 -c32 -d"${SECS}s" --timeout 5s -s "$BENCH_LUA_DIR/$1" "http://$PUBLIC$2")
  c1=$(cpu)
  local kv; kv=$(grep -m1 '^BENCH ' <<<"$out") || { echo "$out" >&2; exit 1; }
  grep -q ' unexpected=0 err_connect=0 err_read=0 err_write=0 err_status=0 err_timeout=0' <<<"$kv" || { echo "$kv" >&2; exit 1; }
  local requests rps
  requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$kv")
  rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$kv")
  awk -v r="$rps" -v n="$requests" -v a="$c0" -v b="$c1" 'BEGIN { printf "%.0f %.1f\n", r, (b - a) * 1e6 / n }'
}

declare -A RES
for round in $(seq 1 "$ROUNDS"); do
  for which in base cand; do
    bin=$BASE; [[ $which == cand ]] && bin=$CAND
    start_server "$bin"
    load token.lua /oauth2/token >/dev/null   # warm-up: keys, caches, connections
    a=$(load alive.lua /health/alive)
    t=$(load token.lua /oauth2/token)
    stop_server
    RES[$which.alive]+="$a;" RES[$which.token]+="$t;"
    printf 'round %d %-4s alive %6s req/s %6s µs/req   token %6s req/s %6s µs/req\n' "$round" "$which" $a $t
  done
done

median() { tr ';' '\n' <<<"$1" | awk -v f="$2" 'NF { print $f }' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "| phase | baseline req/s | candidate req/s | ratio | baseline µs/req | candidate µs/req | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for phase in alive token; do
  br=$(median "${RES[base.$phase]}" 1) cr=$(median "${RES[cand.$phase]}" 1)
  bc=$(median "${RES[base.$phase]}" 2) cc=$(median "${RES[cand.$phase]}" 2)
  awk -v p="$phase" -v br="$br" -v cr="$cr" -v bc="$bc" -v cc="$cc" \
    'BEGIN { printf "| %s | %d | %d | %.2f | %.1f | %.1f | %.2f |\n", p, br, cr, cr / br, bc, cc, cc / bc }'
done
echo "(medians of $ROUNDS rounds, ${SECS} s per run)"
