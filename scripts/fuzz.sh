#!/usr/bin/env bash
# Runs every fuzz target for a while (default 20 s each): `bash scripts/fuzz.sh [seconds]`.
# cargo-fuzz drives libFuzzer; on the stable toolchain it needs RUSTC_BOOTSTRAP=1 and no
# sanitizer. Crashes are saved under fuzz/artifacts/<target>/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
n=0
for target in $(cargo fuzz list --fuzz-dir fuzz); do
  echo "== fuzz $target (${SECS}s)"
  cargo fuzz run --fuzz-dir fuzz --sanitizer none "$target" -- -max_total_time="$SECS" -rss_limit_mb=2048 2>&1 | tail -n 3
  n=$((n + 1))
done
# A failing target has stopped the script above (set -e, pipefail).
echo "fuzz: $n passed, 0 failed"
