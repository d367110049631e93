#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a free loopback port and prints its URL.
# Usage: eval "$(scripts/pg-throwaway.sh)"   → sets CLAVIS_PG_URL and CLAVIS_PG_DIR.
# Stop it with: scripts/pg-throwaway.sh stop "$CLAVIS_PG_DIR"
# PG_FSYNC=on starts it with fsync (default off).
# PostgreSQL refuses to run as root, so as root the cluster runs as user `postgres`.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "no PostgreSQL server found under /usr/lib/postgresql" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  dir=$2
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

fsync=${PG_FSYNC:-off}
[ "$fsync" = on ] || [ "$fsync" = off ] || { echo "PG_FSYNC must be on or off" >&2; exit 2; }
dir=$(mktemp -d /tmp/clavis-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off unless PG_FSYNC=on: this cluster holds test data only and is deleted afterwards
# (on for benchmarks whose figures should include PostgreSQL's own flushes).
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export CLAVIS_PG_URL=postgres://postgres@127.0.0.1:$port/postgres"
echo "export CLAVIS_PG_DIR=$dir"
