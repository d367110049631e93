#!/usr/bin/env bash
# Starts a throwaway MariaDB server (Debian's mariadb-server, installed if missing and apt-get
# can) on a free loopback port and prints its URL, for the test that reads a MySQL Hydra
# database. Usage: eval "$(scripts/mysql-throwaway.sh)"   → sets CLAVIS_TEST_MYSQL_URL and
# CLAVIS_MYSQL_DIR. Stop it with: scripts/mysql-throwaway.sh stop "$CLAVIS_MYSQL_DIR"
# It holds test data only: no grant tables (any user, no password), no networking but
# 127.0.0.1, and it is deleted afterwards. MariaDB refuses to run as root: it runs as `mysql`.
set -euo pipefail

if [ "${1:-}" = stop ]; then
  dir=$2
  [ -f "$dir/mariadbd.pid" ] && kill "$(cat "$dir/mariadbd.pid")" 2>/dev/null || true
  for _ in $(seq 100); do [ -e "$dir/mariadbd.pid" ] || break; sleep 0.1; done
  rm -rf "$dir"
  exit 0
fi

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing mariadb-server (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2; }
  else
    echo "no MariaDB server (mariadbd), and apt-get cannot install one here" >&2
    exit 1
  fi
fi
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)

dir=$(mktemp -d /tmp/clavis-mysql.XXXXXX)
chmod 755 "$dir"
user=$(id -un)
if [ "$(id -u)" = 0 ]; then user=mysql; chown mysql "$dir"; fi
mariadb-install-db --user="$user" --datadir="$dir/data" --auth-root-authentication-method=normal \
  --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$mariadbd" --no-defaults --user="$user" --datadir="$dir/data" --socket="$dir/mysqld.sock" \
  --pid-file="$dir/mariadbd.pid" --port="$port" --bind-address=127.0.0.1 --skip-grant-tables \
  --innodb-flush-log-at-trx-commit=0 --log-error="$dir/server.log" >/dev/null 2>&1 &
# Ready when it accepts a query (it takes a second or two to start).
for _ in $(seq 300); do
  if mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root -e "CREATE DATABASE IF NOT EXISTS clavis_test" >/dev/null 2>&1; then
    echo "export CLAVIS_TEST_MYSQL_URL=mysql://root@127.0.0.1:$port/clavis_test"
    echo "export CLAVIS_MYSQL_DIR=$dir"
    exit 0
  fi
  sleep 0.1
done
cat "$dir/server.log" >&2
exit 1
