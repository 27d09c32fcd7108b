#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests, on 127.0.0.1 only, data under /tmp.
#
#   scripts/pg-test-server.sh          start (or reuse) it; prints the URL on stdout, only that
#   scripts/pg-test-server.sh stop     stop it (the data dir stays until `purge`)
#   scripts/pg-test-server.sh purge    stop it and delete its directory
#
#   export FLIGHTDECK_TEST_POSTGRES_URL="$(scripts/pg-test-server.sh)"
#
# Idempotent: installs postgresql with apt only if no server binaries are found, creates the
# cluster only once, starts it only if it is not running. Runs as the `postgres` user (initdb
# refuses root). Trust auth on loopback: never point this at anything but tests.
# Settings: FLIGHTDECK_PG_DIR (default /tmp/flightdeck-pg), FLIGHTDECK_PG_PORT (default: the
# first free port from 55432).
set -euo pipefail

BASE="${FLIGHTDECK_PG_DIR:-/tmp/flightdeck-pg}"
DATA="$BASE/data"
LOG="$BASE/server.log"
DB=flightdeck_test
PG_USER=postgres

log() { echo "pg-test-server: $*" >&2; }

as_pg() {
    if [ "$(id -un)" = "$PG_USER" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_USER" -- "$@"
    else
        su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
    fi
}

find_bindir() {
    local dir
    # The newest installed major version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    [ "$(id -u)" = 0 ] || { log "PostgreSQL is not installed and I am not root: apt-get install postgresql"; exit 1; }
    # No default cluster on port 5432: we make our own.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    fi
    log "installing postgresql with apt-get (first run only)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
}

port_in_use() {
    # bash's /dev/tcp: a successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    if [ -n "${FLIGHTDECK_PG_PORT:-}" ]; then
        echo "$FLIGHTDECK_PG_PORT"
        return
    fi
    if [ -s "$BASE/port" ]; then
        cat "$BASE/port"
        return
    fi
    local port=55432
    while port_in_use "$port"; do
        port=$((port + 1))
        [ "$port" -lt 55532 ] || { log "no free port in 55432..55531"; exit 1; }
    done
    echo "$port"
}

BINDIR="$(find_bindir || true)"
case "${1:-start}" in
    stop|purge)
        if [ -n "$BINDIR" ] && [ -f "$DATA/postmaster.pid" ]; then
            as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
        fi
        if [ "${1}" = purge ]; then
            rm -rf "$BASE"
            log "removed $BASE"
        fi
        exit 0
        ;;
    start) ;;
    *) log "usage: $0 [start|stop|purge]"; exit 2 ;;
esac

if [ -z "$BINDIR" ]; then
    install_postgres
    BINDIR="$(find_bindir)" || { log "no initdb found after installing postgresql"; exit 1; }
fi

mkdir -p "$BASE"
chown "$PG_USER": "$BASE"
PORT="$(pick_port)"

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "creating cluster in $DATA"
    as_pg "$BINDIR/initdb" -D "$DATA" -U "$PG_USER" --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 \
        || { cat "$BASE/initdb.log" >&2; exit 1; }
    echo "$PORT" > "$BASE/port"
fi

if as_pg "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    # Running already: use the port it actually listens on (line 4 of postmaster.pid).
    PORT="$(sed -n 4p "$DATA/postmaster.pid")"
else
    if port_in_use "$PORT"; then
        log "port $PORT is taken by another program; set FLIGHTDECK_PG_PORT"
        exit 1
    fi
    # Durability off: a test cluster trades crash safety for speed.
    opts="-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$BASE"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o "$opts" >&2 \
        || { log "server did not start; log follows"; tail -n 50 "$LOG" >&2; exit 1; }
    echo "$PORT" > "$BASE/port"
    log "started PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (pid $(head -1 "$DATA/postmaster.pid"))"
fi

if ! as_pg "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_pg "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U "$PG_USER" "$DB"
fi

echo "postgres://$PG_USER@127.0.0.1:$PORT/$DB"
