#!/usr/bin/env bash
# A project-owned PostgreSQL cluster on 127.0.0.1:$AR_PG_PORT, data in $AR_LOCAL_DIR/postgres.
# Usage: deploy/local/postgres.sh start|stop|status|dsn
# Uses the server binaries on the machine (Debian's postgresql package is installed if
# they are missing); never touches a system-wide cluster or service.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_DIR="$AR_LOCAL_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$AR_LOCAL_DIR/logs/postgres.log"
PG_SUPERUSER_PASSWORD_FILE="$PG_DIR/superuser.password"

pg_bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$dir" ]; then
        apt_install postgresql
        dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    fi
    [ -n "$dir" ] || fail "no PostgreSQL server binaries found under /usr/lib/postgresql after installing the postgresql package"
    local major
    major=$(basename "$(dirname "$dir")")
    [ "${major%%.*}" -ge 15 ] || fail "PostgreSQL 15 or newer is needed; found $major in $dir"
    printf '%s' "$dir"
}

# The server refuses to run as root, so as root it runs as the unprivileged 'postgres' user.
run_as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

prepare_dirs() {
    mkdir -p "$PG_DIR" "$AR_LOCAL_DIR/logs"
    touch "$PG_LOG"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || apt_install postgresql
        id postgres >/dev/null 2>&1 || fail "the 'postgres' system user is missing; PostgreSQL cannot run as root"
        # The server user needs to reach the data folder: grant search (not read) on the
        # ancestors that lack it, e.g. a clone made inside a private temporary folder.
        local d="$PG_DIR"
        while [ "$d" != "/" ]; do
            if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
                chmod o+x "$d"
            fi
            d=$(dirname "$d")
        done
        chown postgres: "$PG_DIR" "$PG_LOG"
    fi
}

psql_super() {
    PGPASSWORD="$(cat "$PG_SUPERUSER_PASSWORD_FILE")" "$(pg_bin_dir)/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$AR_PG_PORT" -U postgres -d postgres "$@"
}

init_cluster() {
    [ -f "$PG_DATA/PG_VERSION" ] && return 0
    local bin pwfile
    bin=$(pg_bin_dir)
    say "creating a PostgreSQL cluster in $PG_DATA"
    umask 077
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$PG_SUPERUSER_PASSWORD_FILE"
    pwfile="$PG_DIR/.initdb-pwfile"
    cp "$PG_SUPERUSER_PASSWORD_FILE" "$pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
    run_as_server_user "$bin/initdb" -D "$PG_DATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=reject --auth-host=scram-sha-256 --pwfile="$pwfile" >>"$PG_LOG" 2>&1 \
        || { rm -f "$pwfile"; fail "initdb failed" "$PG_LOG"; }
    rm -f "$pwfile"
    cat >>"$PG_DATA/postgresql.conf" <<CONF

# --- receivables: loopback only, no unix socket, sized for a 2-core development machine
listen_addresses = '127.0.0.1'
port = $AR_PG_PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
work_mem = 16MB
maintenance_work_mem = 128MB
wal_level = minimal
max_wal_senders = 0
max_wal_size = 2GB
log_min_duration_statement = -1
log_line_prefix = '%m [%p] %q%u@%d '
CONF
}

ensure_role_and_database() {
    local exists
    exists=$(psql_super -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$AR_PG_USER'")
    if [ "$exists" != "1" ]; then
        psql_super -c "CREATE ROLE \"$AR_PG_USER\" LOGIN CREATEDB PASSWORD '$AR_PG_PASSWORD'" >/dev/null
    fi
    exists=$(psql_super -tAc "SELECT 1 FROM pg_database WHERE datname = '$AR_PG_DB'")
    if [ "$exists" != "1" ]; then
        psql_super -c "CREATE DATABASE \"$AR_PG_DB\" OWNER \"$AR_PG_USER\"" >/dev/null
    fi
}

is_running() {
    [ -f "$PG_DATA/postmaster.pid" ] && run_as_server_user "$(pg_bin_dir)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

start() {
    prepare_dirs
    if is_running; then
        say "PostgreSQL already running on 127.0.0.1:$AR_PG_PORT"
        ensure_role_and_database
        return 0
    fi
    if port_is_open "$AR_PG_PORT"; then
        fail "port $AR_PG_PORT on 127.0.0.1 is taken by another program; set AR_PG_PORT to a free port"
    fi
    init_cluster
    local bin
    bin=$(pg_bin_dir)
    run_as_server_user "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$AR_START_TIMEOUT" start >/dev/null 2>&1 \
        || fail "PostgreSQL did not start within ${AR_START_TIMEOUT}s" "$PG_LOG"
    ensure_role_and_database
    say "PostgreSQL running on 127.0.0.1:$AR_PG_PORT (database $AR_PG_DB, log $PG_LOG)"
}

stop() {
    if is_running; then
        run_as_server_user "$(pg_bin_dir)/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 \
            || fail "PostgreSQL did not stop" "$PG_LOG"
        say "PostgreSQL stopped"
    else
        say "PostgreSQL not running"
    fi
}

status() {
    if is_running; then
        say "PostgreSQL running on 127.0.0.1:$AR_PG_PORT (data $PG_DATA)"
    else
        say "PostgreSQL not running"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    dsn) printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$AR_PG_USER" "$AR_PG_PASSWORD" "$AR_PG_PORT" "$AR_PG_DB" ;;
    *) say "usage: $0 start|stop|status|dsn"; exit 2 ;;
esac
