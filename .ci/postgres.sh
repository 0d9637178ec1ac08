#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on 127.0.0.1 and a free port.
#
#   eval "$(.ci/postgres.sh start)"        # prints the export lines below, nothing else on stdout
#   .ci/postgres.sh stop [DIR]             # DIR defaults to $INVOICE_SANDBOX_PG_DIR
#
# start prints `export INVOICE_SANDBOX_TEST_POSTGRES=postgresql://sandbox@127.0.0.1:PORT/postgres`
# and `export INVOICE_SANDBOX_PG_DIR=...` (the cluster's folder, which stop removes). initdb and the
# server refuse to run as root, so as root they run as the `postgres` system user (or `nobody`).
# Debian's postgresql package is installed only when no initdb can be found.
set -euo pipefail

fail() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# The folder holding initdb, pg_ctl and postgres: Debian's newest versioned one, else the PATH's.
find_bin() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

# Who runs the server: ourselves, or an unprivileged user when we are root.
server_user() {
    if [[ $(id -u) -ne 0 ]]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

# Run a command as the server's user (from a folder that user can enter).
as_user() {
    local user=$1
    shift
    if [[ $(id -u) -ne 0 ]]; then
        (cd / && "$@")
    elif command -v runuser >/dev/null 2>&1; then
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && su -s /bin/sh "$user" -c "$(printf '%q ' "$@")")
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local bin user dir port attempt
    if ! bin=$(find_bin); then
        command -v apt-get >/dev/null 2>&1 || fail "no initdb found and no apt-get to install PostgreSQL with."
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2; then
            fail "no initdb found and 'apt-get install postgresql' failed."
        fi
        bin=$(find_bin) || fail "postgresql was installed but no initdb was found."
    fi
    user=$(server_user)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/invoice-sandbox-pg.XXXXXX")
    chmod 700 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown "$user" "$dir"
    fi
    if ! as_user "$user" "$bin/initdb" -D "$dir/data" -A trust -U sandbox -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
        local reason
        reason=$(grep -v '^\s*$' "$dir/initdb.log" | tail -n 1)
        rm -rf "$dir"
        fail "initdb failed as user $user: $reason"
    fi
    for attempt in 1 2 3; do
        port=$(free_port)
        if as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off \
                -c full_page_writes=off -c max_connections=200" >&2 \
            && as_user "$user" "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
            printf 'export INVOICE_SANDBOX_TEST_POSTGRES=%q\n' "postgresql://sandbox@127.0.0.1:$port/postgres"
            printf 'export INVOICE_SANDBOX_PG_DIR=%q\n' "$dir"
            return 0
        fi
        as_user "$user" "$bin/pg_ctl" -D "$dir/data" -s -m immediate stop >/dev/null 2>&1 || true
    done
    local reason
    reason=$(grep -v '^\s*$' "$dir/server.log" 2>/dev/null | tail -n 1 || true)
    rm -rf "$dir"
    fail "PostgreSQL did not start on 127.0.0.1 (last log line: ${reason:-none})."
}

stop() {
    local dir=${1:-${INVOICE_SANDBOX_PG_DIR:-}}
    [[ -n "$dir" && -d "$dir" ]] || return 0
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        local bin user
        bin=$(find_bin) || fail "no pg_ctl found to stop the cluster in $dir."
        user=$(stat -c %U "$dir")
        as_user "$user" "$bin/pg_ctl" -D "$dir/data" -s -m fast -w stop >&2 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) fail "usage: $0 start | stop [DIR]" ;;
esac
