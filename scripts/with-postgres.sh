#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server: a new cluster in a temporary directory,
# listening on 127.0.0.1 at a free port, stopped and deleted when the command ends. The
# command sees its address as HATCHERY_TEST_POSTGRES (a URL of its `postgres` database).
#   scripts/with-postgres.sh cargo test -p hatchery-server --test api
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (scripts/setup.sh test installs it)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/hatchery-pg.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi

stop() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_owner "$bin/initdb" -D "$dir/data" -U hatchery --auth=trust --locale=C.UTF-8 \
  --encoding=UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability is not needed for a cluster that is deleted afterwards.
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off \
   -c full_page_writes=off -c max_connections=300" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export HATCHERY_TEST_POSTGRES="postgres://hatchery@127.0.0.1:$port/postgres"
"$@"
