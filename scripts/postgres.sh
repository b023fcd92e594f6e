#!/usr/bin/env bash
# A private PostgreSQL 15 for development and tests, run as an ordinary
# process from Debian's binaries (not the system service).
#
#   scripts/postgres.sh start   # init (first time), start, create database `photo`; prints the URL
#   scripts/postgres.sh stop    # stop exactly this server (pg_ctl stop -D <its data dir>)
#   scripts/postgres.sh url     # print the URL
#   scripts/postgres.sh status
#
# Settings (environment):
#   PHOTO_PG_DIR   where everything lives (default <repo>/var/postgres):
#                  data/ (cluster; its unix socket too), server.log
#   PHOTO_PG_PORT  TCP port (default 55432)
#   PHOTO_PG_LISTEN  comma list of addresses to listen on (default 127.0.0.1), e.g.
#                  a test network namespace's own address (run under `ip netns exec`)
#   PHOTO_PG_TRUST_NET  a network (e.g. 198.18.0.0/24) whose clients may connect,
#                  trusted like loopback: test networks only (default none)
#   PHOTO_PG_BIN   PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
#   PHOTO_PG_FAST  1 = fsync off (throwaway test servers: a crash of the
#                  machine may corrupt the cluster; a process crash cannot)
#
# Listens on 127.0.0.1 only (unless told otherwise), trust authentication: for
# local tests, never for anything reachable from outside. initdb refuses to run as root, so as root
# the server runs as the unprivileged `postgres` user (the Debian package
# creates it) and the directory is handed to that user.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${PHOTO_PG_DIR:-$here/var/postgres}
port=${PHOTO_PG_PORT:-55432}
bin=${PHOTO_PG_BIN:-/usr/lib/postgresql/15/bin}
data=$dir/data
log=$dir/server.log
url="postgresql://postgres@127.0.0.1:$port/photo"

die() { echo "postgres.sh: $*" >&2; exit 1; }

[ -x "$bin/pg_ctl" ] || die "no PostgreSQL binaries in $bin (apt-get install postgresql-15)"

# Run a PostgreSQL binary as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

prepare_dir() {
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user"
    chown postgres: "$dir"
    # The server must be able to reach its directory: every parent needs +x
    # for it. Refuse rather than silently loosening permissions.
    local p=$dir
    while [ "$p" != / ]; do
      runuser -u postgres -- test -x "$p" || die "user postgres cannot enter $p; pick PHOTO_PG_DIR elsewhere"
      p=$(dirname "$p")
    done
  fi
}

is_running() { [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; }

start() {
  prepare_dir
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    as_owner "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    cat >>"$data/postgresql.conf" <<CONF

# photo-pipeline private test server (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 100
CONF
  fi
  if is_running; then
    echo "postgres.sh: already running (pid $(head -1 "$data/postmaster.pid"))" >&2
  else
    # Options go on the command line so they can change between runs.
    local opts="-p $port -c listen_addresses=${PHOTO_PG_LISTEN:-127.0.0.1}"
    if [ -n "${PHOTO_PG_TRUST_NET:-}" ] &&
      ! grep -q "^host all all $PHOTO_PG_TRUST_NET trust" "$data/pg_hba.conf"; then
      echo "host all all $PHOTO_PG_TRUST_NET trust" >>"$data/pg_hba.conf"
    fi
    if [ "${PHOTO_PG_FAST:-0}" = 1 ]; then
      opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$bin/pg_ctl" start -D "$data" -l "$log" -w -t 60 -o "$opts" >/dev/null ||
      { tail -n 20 "$log" >&2 || true; die "server did not start (port $port taken?)"; }
  fi
  local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'photo'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE photo" >/dev/null 2>&1 ||
      [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'photo'")" = 1 ] ||
      die "could not create database photo"
  fi
  echo "$url"
}

stop() {
  if [ ! -f "$data/postmaster.pid" ]; then
    echo "postgres.sh: not running ($data)" >&2
    return 0
  fi
  # pg_ctl signals the PID recorded in this data directory's postmaster.pid:
  # exactly this server, nothing else.
  as_owner "$bin/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  status) if is_running; then echo "running: $url"; else echo "stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
