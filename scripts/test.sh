#!/usr/bin/env bash
# The whole Clavis test suite, as CI runs it:
#   0. the code's shape: rustfmt (rustfmt.toml) and clippy with warnings as errors,
#   1. unit and integration tests (cargo nextest) on SQLite,
#   2. the integration tests again on PostgreSQL,
#   3. interoperability tests with third-party client libraries (Python, in a venv),
#      on SQLite and on PostgreSQL,
#   4. a short run of every fuzz target (cargo-fuzz, installed if missing).
# PostgreSQL: uses $CLAVIS_PG_URL (a server URL whose user may CREATE DATABASE) if set,
# otherwise starts a throwaway local cluster and removes it afterwards.
# MySQL (the import from a MySQL Hydra database): uses $CLAVIS_TEST_MYSQL_URL if set, otherwise
# starts a throwaway MariaDB (installing Debian's mariadb-server if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

cleanup() {
  if [ -n "${CLAVIS_PG_DIR:-}" ]; then scripts/pg-throwaway.sh stop "$CLAVIS_PG_DIR"; fi
  if [ -n "${CLAVIS_MYSQL_DIR:-}" ]; then scripts/mysql-throwaway.sh stop "$CLAVIS_MYSQL_DIR"; fi
}
trap cleanup EXIT
# (Assigned first: `eval "$(…)"` would hide the script's failure from `set -e`.)
if [ -z "${CLAVIS_PG_URL:-}" ]; then
  started=$(scripts/pg-throwaway.sh)
  eval "$started"
fi
if [ -z "${CLAVIS_TEST_MYSQL_URL:-}" ]; then
  started=$(scripts/mysql-throwaway.sh)
  eval "$started"
fi
# The MySQL import test fails, instead of skipping, without a server.
export CLAVIS_REQUIRE_MYSQL=1

if cargo nextest --version >/dev/null 2>&1; then
  run_tests() { cargo nextest run --workspace --no-fail-fast "$@"; }
else
  run_tests() { cargo test --workspace --no-fail-fast "$@"; }
fi

echo "== Shape: cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== Rust tests on SQLite"
CLAVIS_TEST_DB=sqlite run_tests

echo "== Rust integration tests on PostgreSQL"
CLAVIS_TEST_DB="$CLAVIS_PG_URL" run_tests -p clavis --test '*'

echo "== Interoperability tests (Python client libraries)"
cargo build -p clavis --bin clavis
python3 -m venv .venv >/dev/null
.venv/bin/pip install -q --disable-pip-version-check -r tests/interop/requirements.txt
export CLAVIS_BIN="$PWD/target/debug/clavis"
echo "-- on SQLite"
CLAVIS_TEST_DB=sqlite .venv/bin/python -m pytest -q tests/interop
echo "-- on PostgreSQL"
CLAVIS_TEST_DB="$CLAVIS_PG_URL" .venv/bin/python -m pytest -q tests/interop

echo "== Fuzz smoke run (CLAVIS_FUZZ_SECONDS per target, default 10; 0 skips)"
if [ "${CLAVIS_FUZZ_SECONDS:-10}" != 0 ]; then
  bash scripts/fuzz.sh "${CLAVIS_FUZZ_SECONDS:-10}"
fi
