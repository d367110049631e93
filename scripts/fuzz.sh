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
  log=$(mktemp)
  # The whole output on failure (a build error or a crash and its input), else its end.
  if ! cargo fuzz run --fuzz-dir fuzz --sanitizer none "$target" -- -max_total_time="$SECS" -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 60 "$log"
    rm -f "$log"
    echo "fuzz: $target failed"
    exit 1
  fi
  tail -n 3 "$log"
  rm -f "$log"
  n=$((n + 1))
done
# A failing target has stopped the script above.
echo "fuzz: $n passed, 0 failed"
