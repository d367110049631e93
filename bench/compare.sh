#!/usr/bin/env bash
# Before/after of the load benchmark, from one invocation: bench/run.sh on an older build
# (BASELINE, e.g. a copy of target/release/clavis made before a change), then on this
# tree's release build, back to back on the same machine, and for each phase the requests/s
# and the server's CPU time per request of both, with their ratios (new / old).
#
# Usage:  bash bench/compare.sh BASELINE [seconds]      (seconds per wrk phase, default 10)
# Environment: as bench/run.sh (CLAVIS_BENCH_DB for PostgreSQL, …). Loopback only.
set -euo pipefail
BASE=${1:?usage: bash bench/compare.sh BASELINE_BINARY [seconds]}
SECS=${2:-10}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=$ROOT/bench/results
[[ -x $BASE ]] || { echo "no executable at $BASE" >&2; exit 2; }
(cd "$ROOT" && timeout 1800 cargo build --release --quiet -p clavis --bin clavis)
NEW=$ROOT/target/release/clavis
mkdir -p "$RESULTS"
for side in old new; do
  bin=$BASE; [[ $side == new ]] && bin=$NEW
  echo "[compare] $side: $bin" >&2
  CLAVIS_BENCH_BIN=$bin bash "$ROOT/bench/run.sh" "$SECS" >/dev/null
  cp "$RESULTS/latest.kv" "$RESULTS/compare-$side.kv"
  cp "$RESULTS/latest.md" "$RESULTS/compare-$side.md"
done
python3 - "$RESULTS/compare-old.kv" "$RESULTS/compare-new.kv" <<'PY' | tee "$RESULTS/compare.md"
import sys
def load(p):
    return dict(l.rstrip("\n").split("=", 1) for l in open(p) if "=" in l)
old, new = load(sys.argv[1]), load(sys.argv[2])
print("| phase | old req/s | new req/s | new/old | old server CPU µs/req | new | new/old |")
print("|---|---|---|---|---|---|---|")
for phase in ("alive", "token", "introspect", "refresh"):
    if f"{phase}.rps" not in old or f"{phase}.rps" not in new:
        continue
    cpu = lambda d: float(d[f"{phase}.server_cpu_s"]) * 1e6 / float(d[f"{phase}.requests"])
    o, n = float(old[f"{phase}.rps"]), float(new[f"{phase}.rps"])
    print(f"| {phase} | {o:,.0f} | {n:,.0f} | {n / o:.2f} | {cpu(old):.1f} | {cpu(new):.1f} | {cpu(new) / cpu(old):.2f} |")
if "peak_rss_kib" in old and "peak_rss_kib" in new:
    print(f"\npeak RSS (VmHWM): old {int(old['peak_rss_kib']) // 1024} MiB, new {int(new['peak_rss_kib']) // 1024} MiB")
PY
