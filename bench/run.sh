#!/usr/bin/env bash
# Clavis load benchmark: token endpoint throughput/latency against a trivial baseline,
# peak server memory, and admin-API client-creation latency.
#
# Usage:  bash bench/run.sh [seconds]        (seconds per measured wrk phase, default 10)
#
# What it does, all on 127.0.0.1 and nothing else:
#   1. builds the release binary (cargo build --release -p clavis --bin clavis), starts
#      `clavis serve` on ephemeral loopback ports with a fresh data dir (SQLite), waits for
#      its "clavis listening" log line, and creates a benchmark client (grant
#      client_credentials, scopes read write) through the admin API;
#   2. with wrk (2 threads, 32 connections, fixed duration, --latency):
#        - a short untimed warm-up of the token endpoint,
#        - baseline:  GET  /health/alive                        (bench/lua/alive.lua)
#        - token:     POST /oauth2/token, client_credentials,   (bench/lua/token.lua)
#                     client_secret_basic
#      and reports the token throughput as a ratio to the baseline of the same run;
#   3. fails loudly if any response of either phase was not a 200, or wrk saw socket errors;
#   4. reports requests/s, p50/p99 latency, the CPU time the server and wrk spent per
#      request, and the server's peak RSS (VmHWM from /proc/<pid>/status) after the load;
#   5. times sequential client creations through the admin API (bench/admin.py, Python
#      standard library, one keep-alive connection) and reports p50/p99/mean;
#   6. stops the server and removes its temp dir, whatever happens (trap), with timeouts on
#      every step.
# The summary table is printed and written to bench/results/latest.md (git-ignored), with
# wrk's raw output in bench/results/latest-raw.txt.
#
# Environment (all optional):
#   CLAVIS_BENCH_DB=postgres://user@127.0.0.1:PORT/db   use PostgreSQL instead of SQLite
#                                  (loopback hosts only; e.g. from scripts/pg-throwaway.sh)
#   CLAVIS_BENCH_CREATES=200       number of timed client creations
#   CLAVIS_BENCH_WARMUP=2          seconds of untimed token load before measuring
#   CLAVIS_BENCH_NO_BUILD=1        skip cargo build (use the existing target/release/clavis)
#   CLAVIS_BENCH_PERF=token        record a perf profile of the server during that phase
#                                  (bench/results/PHASE.perf.data; its CPU figures include perf's cost)
#   CLAVIS_BENCH_BIN=path          benchmark that binary instead (no build; bench/compare.sh
#                                  uses it to run an older build and this one back to back)
#
# Requires wrk (installed with apt-get when missing and running as root), python3, cargo.
# wrk and the server share the machine's cores: the figures are for that setup.
set -euo pipefail

SECS=${1:-10}
[[ $SECS =~ ^[1-9][0-9]{0,3}$ ]] || { echo "usage: bash bench/run.sh [seconds]   (1..9999)" >&2; exit 2; }
THREADS=2
CONNS=32
CREATES=${CLAVIS_BENCH_CREATES:-200}
WARMUP=${CLAVIS_BENCH_WARMUP:-2}
[[ $CREATES =~ ^[1-9][0-9]*$ ]] || { echo "CLAVIS_BENCH_CREATES must be a positive integer" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "CLAVIS_BENCH_WARMUP must be a whole number of seconds" >&2; exit 2; }

# Target from the project brief.
TARGET_RPS=40000
TARGET_P99_US=5000
TARGET_RSS_MIB=64

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
RESULTS=$BENCH/results
BIN=${CLAVIS_BENCH_BIN:-$ROOT/target/release/clavis}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Cleanup: always stop the server and remove the temp dir.
WORK=""
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ $rc -ne 0 && -s $WORK/server.log ]]; then
      log "last server log lines:"; tail -n 20 "$WORK/server.log" >&2 || true
    fi
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Tools.
if ! command -v wrk >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || die "wrk is missing: install it (Debian: apt-get install -y wrk)"
  log "installing wrk (apt-get)"
  timeout 300 apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { timeout 300 apt-get update -qq >/dev/null 2>&1 && timeout 300 apt-get install -y -qq wrk >/dev/null 2>&1; } \
    || die "could not install wrk"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is missing"

# Database: SQLite in the temp dir, or a loopback PostgreSQL URL.
DB_URL=${CLAVIS_BENCH_DB:-}
BACKEND=sqlite
if [[ -n $DB_URL ]]; then
  [[ $DB_URL == postgres://* || $DB_URL == postgresql://* ]] || die "CLAVIS_BENCH_DB must be a postgres:// URL"
  host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname or "")' "$DB_URL")
  [[ $host == 127.0.0.1 || $host == localhost ]] || die "CLAVIS_BENCH_DB must point at 127.0.0.1 (got host '$host')"
  BACKEND=postgres
fi

# ---------------------------------------------------------------------------------------
# 1. Build and start.
if [[ ${CLAVIS_BENCH_NO_BUILD:-} != 1 && -z ${CLAVIS_BENCH_BIN:-} ]]; then
  log "building the release binary"
  (cd "$ROOT" && timeout 1800 cargo build --release --quiet -p clavis --bin clavis) || die "cargo build failed"
fi
[[ -x $BIN ]] || die "$BIN not found"

WORK=$(mktemp -d /tmp/clavis-bench.XXXXXX)
ADMIN_ID=bench-admin
ADMIN_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')

# The server runs in the temp dir (so no stray ./clavis.toml is read) with only the
# CLAVIS_* settings given here. `exec` makes $! the server's own pid.
(
  cd "$WORK"
  while read -r v; do [[ $v == CLAVIS_BENCH_* ]] || unset "$v"; done < <(compgen -e | grep '^CLAVIS_' || true)
  export CLAVIS_PUBLIC_ADDR=127.0.0.1:0 CLAVIS_ADMIN_ADDR=127.0.0.1:0 CLAVIS_DATA_DIR="$WORK" \
         CLAVIS_BOOTSTRAP_CLIENT_ID="$ADMIN_ID" CLAVIS_BOOTSTRAP_CLIENT_SECRET="$ADMIN_SECRET" \
         CLAVIS_LOG_FORMAT=json CLAVIS_LOG=warn,clavis=info,clavis::access=warn \
         CLAVIS_LOGIN_URL=https://login.bench/login CLAVIS_CONSENT_URL=https://login.bench/consent
  [[ -n $DB_URL ]] && export CLAVIS_DATABASE_URL="$DB_URL"
  exec "$BIN" serve
) >"$WORK/server.out" 2>"$WORK/server.log" </dev/null &
SERVER_PID=$!

log "waiting for the server (pid $SERVER_PID) to listen"
PUBLIC=""; ADMIN=""
deadline=$((SECONDS + 60))
while :; do
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited during start-up"
  line=$(grep -m1 '"message":"clavis listening"' "$WORK/server.log" || true)
  if [[ -n $line ]]; then
    PUBLIC=$(sed -n 's/.*"public_addr":"\([^"]*\)".*/\1/p' <<<"$line")
    ADMIN=$(sed -n 's/.*"admin_addr":"\([^"]*\)".*/\1/p' <<<"$line")
    break
  fi
  ((SECONDS < deadline)) || die "no 'clavis listening' line within 60 s"
  sleep 0.1
done
[[ $PUBLIC =~ ^127\.0\.0\.1:[0-9]+$ && $ADMIN =~ ^127\.0\.0\.1:[0-9]+$ ]] \
  || die "unexpected listen addresses: public='$PUBLIC' admin='$ADMIN'"
log "public http://$PUBLIC, admin http://$ADMIN, backend $BACKEND"

export BENCH_ADMIN_ID=$ADMIN_ID BENCH_ADMIN_SECRET=$ADMIN_SECRET
setup_out=$(timeout 60 python3 "$BENCH/admin.py" setup "$PUBLIC" "$ADMIN") || die "creating the benchmark client failed"
CLIENT_ID=$(sed -n 's/^CLIENT_ID=//p' <<<"$setup_out")
CLIENT_SECRET=$(sed -n 's/^CLIENT_SECRET=//p' <<<"$setup_out")
[[ -n $CLIENT_ID && -n $CLIENT_SECRET ]] || die "admin.py setup printed no credentials"
log "benchmark client $CLIENT_ID created"

export BENCH_LUA_DIR=$BENCH/lua
BENCH_BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)
export BENCH_BASIC

# ---------------------------------------------------------------------------------------
# 2-4. wrk phases.
CLK_TCK=$(getconf CLK_TCK)
# CPU seconds (user+sys) the server has used so far.
server_cpu() { awk -v t="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' "/proc/$SERVER_PID/stat"; }
# CPU seconds all processes on the machine have used so far (user+nice+system+irq+softirq+steal).
machine_cpu() { awk -v t="$CLK_TCK" '$1 == "cpu" { printf "%.3f\n", ($2 + $3 + $4 + $7 + $8 + $9) / t; exit }' /proc/stat; }
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER_PID/status"; }

declare -A R   # results: R[phase.key]=value
: >"$WORK/raw.txt"

# run_wrk PHASE SCRIPT PATH DURATION [check]
run_wrk() {
  local phase=$1 script=$2 path=$3 dur=$4 check=${5:-check}
  local out=$WORK/$phase.out cpu0 cpu1 all0 all1 t wall wrk_user wrk_sys kv k v
  cpu0=$(server_cpu); all0=$(machine_cpu)
  local perf_pid=""
  if [[ ${CLAVIS_BENCH_PERF:-} == "$phase" ]]; then
    perf record -q -F 1999 -g -p "$SERVER_PID" -o "$RESULTS/$phase.perf.data" -- sleep "$dur" 2>/dev/null &
    perf_pid=$!
  fi
  # bash's `time` reports wrk's own CPU (user, sys) besides the wall time.
  if ! { TIMEFORMAT='%R %U %S'; time timeout -k 5 $((dur + 30)) \
        wrk -t"$THREADS" -c"$CONNS" -d"${dur}s" --timeout 5s --latency -s "$script" "http://$PUBLIC$path" \
        >"$out" 2>"$WORK/$phase.err"; } 2>"$WORK/$phase.time"; then
    cat "$out" "$WORK/$phase.err" >&2 || true
    die "wrk ($phase) failed or timed out"
  fi
  cpu1=$(server_cpu); all1=$(machine_cpu)
  [[ -n $perf_pid ]] && { wait "$perf_pid" || true; log "profile of $phase in ${RESULTS#"$ROOT"/}/$phase.perf.data (perf report -i …)"; }
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the $phase phase"
  { echo "===== $phase: wrk -t$THREADS -c$CONNS -d${dur}s --latency $path"; cat "$out"; echo; } >>"$WORK/raw.txt"
  [[ $check == check ]] || return 0

  kv=$(grep -m1 '^BENCH ' "$out") || { cat "$out" "$WORK/$phase.err" >&2; die "wrk ($phase) printed no BENCH line"; }
  for t in ${kv#BENCH }; do k=${t%%=*}; v=${t#*=}; R[$phase.$k]=$v; done
  read -r wall wrk_user wrk_sys <"$WORK/$phase.time"
  R[$phase.server_cpu_s]=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.3f", b - a }')
  R[$phase.wrk_cpu_s]=$(awk -v a="$wrk_user" -v b="$wrk_sys" 'BEGIN { printf "%.3f", a + b }')
  R[$phase.wall_s]=$wall
  # Whatever else ran on the machine meanwhile (other builds, tests...): it skews the figures.
  R[$phase.other_cpu_s]=$(awk -v a="$all0" -v b="$all1" -v s="${R[$phase.server_cpu_s]}" -v w="${R[$phase.wrk_cpu_s]}" \
    'BEGIN { o = b - a - s - w; printf "%.3f", (o < 0 ? 0 : o) }')

  local errs=$((R[$phase.err_connect] + R[$phase.err_read] + R[$phase.err_write] + R[$phase.err_timeout]))
  if ((R[$phase.unexpected] > 0 || R[$phase.err_status] > 0 || errs > 0)); then
    cat "$out" >&2
    grep -m1 '^BENCH_SAMPLE ' "$out" >&2 || true
    die "$phase: ${R[$phase.unexpected]} non-200 responses, ${R[$phase.err_status]} error statuses, $errs socket errors/timeouts"
  fi
  ((R[$phase.requests] > 0)) || die "$phase: no requests completed"
  log "$phase: ${R[$phase.rps]} req/s, p50 ${R[$phase.p50_us]} µs, p99 ${R[$phase.p99_us]} µs, all 200"
  if awk -v o="${R[$phase.other_cpu_s]}" -v w="$wall" 'BEGIN { exit !(o / w > 0.15) }'; then
    log "WARNING: other processes used $(awk -v o="${R[$phase.other_cpu_s]}" -v w="$wall" 'BEGIN { printf "%.2f", o / w }') cores during $phase: the machine was not quiet"
  fi
}

RSS_IDLE_KIB=$(status_kib VmRSS)
if ((WARMUP > 0)); then
  log "warm-up: token endpoint for ${WARMUP}s (not measured)"
  run_wrk warmup "$BENCH/lua/token.lua" /oauth2/token "$WARMUP" nocheck
fi
log "baseline: GET /health/alive for ${SECS}s"
run_wrk alive "$BENCH/lua/alive.lua" /health/alive "$SECS"
log "token: POST /oauth2/token for ${SECS}s"
run_wrk token "$BENCH/lua/token.lua" /oauth2/token "$SECS"

# Introspection of a JWT access token by the benchmark client.
BENCH_AT=$(timeout 30 python3 "$BENCH/admin.py" access-token "$PUBLIC" "$CLIENT_ID" "$CLIENT_SECRET") || die "no access token"
export BENCH_AT
log "introspect: POST /oauth2/introspect for ${SECS}s"
run_wrk introspect "$BENCH/lua/introspect.lua" /oauth2/introspect "$SECS"

# The refresh grant with rotation: 4 token families per connection.
families_out=$(timeout 300 python3 "$BENCH/admin.py" families "$PUBLIC" "$ADMIN" $((CONNS * 4)) "$WORK/refresh.txt") \
  || die "creating refresh token families failed"
BENCH_WEB_BASIC=$(sed -n 's/^WEB_BASIC=//p' <<<"$families_out")
export BENCH_WEB_BASIC BENCH_REFRESH_FILE=$WORK/refresh.txt BENCH_THREADS=$THREADS
log "refresh: POST /oauth2/token grant_type=refresh_token for ${SECS}s"
run_wrk refresh "$BENCH/lua/refresh.lua" /oauth2/token "$SECS"
HWM_LOAD_KIB=$(status_kib VmHWM)
RSS_LOAD_KIB=$(status_kib VmRSS)

# ---------------------------------------------------------------------------------------
# 5. Client-creation latency.
log "creating $CREATES clients sequentially through the admin API"
create_out=$(timeout 600 python3 "$BENCH/admin.py" creates "$PUBLIC" "$ADMIN" "$CREATES") || die "client creation failed"
kv=$(grep -m1 '^CREATE ' <<<"$create_out") || die "admin.py creates printed no CREATE line"
for t in ${kv#CREATE }; do R[create.${t%%=*}]=${t#*=}; done
HWM_END_KIB=$(status_kib VmHWM)

# ---------------------------------------------------------------------------------------
# Summary.
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
per_req_us() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.1f", s * 1e6 / n }'; }
cores_used() { awk -v s="$1" -v w="$2" 'BEGIN { printf "%.2f", s / w }'; }
fmt_int() { printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
ok() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }

RATIO=$(awk -v a="${R[token.rps]}" -v b="${R[alive.rps]}" 'BEGIN { printf "%.2f", a / b }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
WRK_VER=$( (wrk --version 2>&1 || true) | awk 'NR == 1 { print $1, $2 }')
HWM_LOAD_MIB=$(mib "$HWM_LOAD_KIB")

row() { # phase label
  local p=$1
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$2" \
    "$(fmt_int "${R[$p.requests]}")" "$(fmt_int "${R[$p.rps]}")" \
    "$(ms "${R[$p.p50_us]}")" "$(ms "${R[$p.p99_us]}")" "$(ms "${R[$p.max_us]}")" \
    "$(per_req_us "${R[$p.server_cpu_s]}" "${R[$p.requests]}") ($(cores_used "${R[$p.server_cpu_s]}" "${R[$p.wall_s]}") cores)" \
    "$(per_req_us "${R[$p.wrk_cpu_s]}" "${R[$p.requests]}") ($(cores_used "${R[$p.wrk_cpu_s]}" "${R[$p.wall_s]}") cores)" \
    "$(cores_used "${R[$p.other_cpu_s]}" "${R[$p.wall_s]}") cores" \
    "${R[$p.unexpected]}"
}

SUMMARY=$(cat <<EOF
## Clavis benchmark — $(date -u +%Y-%m-%dT%H:%MZ)

- revision \`$REV\`, backend **$BACKEND**, release build
- machine: $(nproc) cores, $CPU_MODEL; $WRK_VER and the server share these cores
- wrk: $THREADS threads, $CONNS connections, ${SECS} s per phase, --latency (after ${WARMUP} s token warm-up)

| phase | requests | req/s | p50 ms | p99 ms | max ms | server CPU µs/req | wrk CPU µs/req | other procs | non-200 |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(row alive 'GET /health/alive (baseline)')
$(row token 'POST /oauth2/token (client_credentials, ES256)')
$(row introspect 'POST /oauth2/introspect (JWT access token)')
$(row refresh 'POST /oauth2/token (refresh_token, rotation)')

CPU columns: CPU time per request (user+sys) and, in brackets, cores kept busy on average; "other procs" is what the rest of the machine used meanwhile (should be ~0).

- token / baseline throughput: **$RATIO**; introspection / baseline: **$(awk -v a="${R[introspect.rps]}" -v b="${R[alive.rps]}" 'BEGIN { printf "%.2f", a / b }')**; refresh / baseline: **$(awk -v a="${R[refresh.rps]}" -v b="${R[alive.rps]}" 'BEGIN { printf "%.2f", a / b }')**
- server RSS: idle $(mib "$RSS_IDLE_KIB") MiB; after load $(mib "$RSS_LOAD_KIB") MiB; peak (VmHWM) **$HWM_LOAD_MIB MiB** after the wrk phases, $(mib "$HWM_END_KIB") MiB after the creates

| admin API: create client (sequential, 1 keep-alive connection) | n | p50 ms | p99 ms | mean ms | max ms |
|---|---:|---:|---:|---:|---:|
| POST /admin/oauth/clients | ${R[create.n]} | ${R[create.p50_ms]} | ${R[create.p99_ms]} | ${R[create.mean_ms]} | ${R[create.max_ms]} |

| target | measured | |
|---|---|---|
| ≥ $(fmt_int $TARGET_RPS) token responses/s at $CONNS connections | $(fmt_int "${R[token.rps]}")/s | $(ok "${R[token.rps]} >= $TARGET_RPS") |
| token p99 < $(ms $TARGET_P99_US) ms | $(ms "${R[token.p99_us]}") ms | $(ok "${R[token.p99_us]} < $TARGET_P99_US") |
| peak RSS < $TARGET_RSS_MIB MiB | $(mib "$HWM_END_KIB") MiB | $(ok "$HWM_END_KIB < $TARGET_RSS_MIB * 1024") |
EOF
)

mkdir -p "$RESULTS"
printf '%s\n' "$SUMMARY" >"$RESULTS/latest.md"
R[peak_rss_kib]=$HWM_END_KIB
for k in "${!R[@]}"; do printf '%s=%s\n' "$k" "${R[$k]}"; done | sort >"$RESULTS/latest.kv"
cp "$WORK/raw.txt" "$RESULTS/latest-raw.txt"
printf '\n%s\n\n' "$SUMMARY"
log "written to ${RESULTS#"$ROOT"/}/latest.md (raw wrk output: ${RESULTS#"$ROOT"/}/latest-raw.txt)"
