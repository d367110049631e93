#!/usr/bin/env bash
# The registry at scale (issue 14): one tenant grown to each size through `clavis client
# import`, then reads, searches and writes timed at each size against a single-client read
# of the same run. `bash bench/scale.sh [SIZE...]` (default 1000 10000 100000 1000000).
# BENCH_BACKENDS="sqlite postgres" picks the databases (default: both; PostgreSQL is a
# throwaway cluster from scripts/pg-throwaway.sh).
# BENCH_WRITES=N times N creates, updates and deletes per size (default 100) for the p99s.
# Writes bench/results/scale.csv and bench/results/scale.png (matplotlib, in a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-1000 10000 100000 1000000}")
read -r -a SIZES <<<"${SIZES[*]}"
cargo build --release -q -p clavis --bin clavis
BIN=$PWD/target/release/clavis
mkdir -p bench/results
CSV=bench/results/scale.csv
: >"$CSV.tmp"
WORK=$(mktemp -d /tmp/clavis-scale.XXXXXX)
cleanup() { [[ -n ${CLAVIS_PG_DIR:-} ]] && scripts/pg-throwaway.sh stop "$CLAVIS_PG_DIR"; rm -rf "$WORK"; }
trap cleanup EXIT

run() { # backend database-url
  echo "== $1"
  python3 bench/scale.py "$BIN" "$2" "$WORK/$1.csv" "${SIZES[@]}"
  sed "s/^/$1,/" "$WORK/$1.csv" >>"$CSV.tmp"
}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
if [[ " $BACKENDS " == *" sqlite "* ]]; then
  run sqlite "sqlite://$WORK/scale.db"
fi
if [[ " $BACKENDS " == *" postgres "* ]]; then
  eval "$(scripts/pg-throwaway.sh)"
  base=${CLAVIS_PG_URL%/*}
  psql "$CLAVIS_PG_URL" -qc "CREATE DATABASE clavis_scale" >/dev/null
  run postgres "$base/clavis_scale"
fi
mv "$CSV.tmp" "$CSV"

if [[ ! -x target/bench-venv/bin/python ]]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q --disable-pip-version-check matplotlib
fi
target/bench-venv/bin/python bench/scale_plot.py "$CSV" bench/results/scale.png
echo "wrote $CSV and bench/results/scale.png"
