#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests (CI and local).
#
#   export HARBOUR_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)   # start, print the URL
#   bash .ci/postgres.sh stop                                          # stop, delete its data
#
# fsync is off: the cluster is thrown away after the tests.
#
# Env: HARBOUR_PG_DIR (default /tmp/harbour-pg), HARBOUR_PG_PORT (default 54329).
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=${HARBOUR_PG_DIR:-/tmp/harbour-pg}
PG_PORT=${HARBOUR_PG_PORT:-54329}
PG_URL="postgres://postgres@127.0.0.1:${PG_PORT}/postgres"

as_postgres() { runuser -u postgres -- "$@"; }

install_postgres() {
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "postgres.sh: installing PostgreSQL 15 from Debian's packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql-15 >&2 || apt-get install -y -qq postgresql >&2
    fi
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "postgres.sh: $PG_BIN/initdb is missing after installing postgresql" >&2
        return 1
    fi
}

start() {
    install_postgres
    if [ -f "$PG_DIR/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
        echo "postgres.sh: already running in $PG_DIR" >&2
    else
        rm -rf "$PG_DIR"
        mkdir -p "$PG_DIR"
        chown postgres:postgres "$PG_DIR"
        chmod 700 "$PG_DIR"
        as_postgres "$PG_BIN/initdb" -D "$PG_DIR" -A trust -U postgres >/dev/null
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" \
            -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" -w start >/dev/null
    fi
    echo "$PG_URL"
}

stop() {
    if [ -d "$PG_DIR" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    echo "postgres.sh: stopped" >&2
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
