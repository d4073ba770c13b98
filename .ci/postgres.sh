#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: a temporary data directory, a loopback port,
# trust authentication, no durability (fsync off). Used by .ci/run and by tests/conftest.py
# (the postgres_url fixture), so CI and a local `pytest` start it the same way.
#
#   .ci/postgres.sh start DIR   initialise DIR/data, start the server on a free port of
#                               127.0.0.1 and print its URL (postgresql://postgres@127.0.0.1:PORT/postgres)
#   .ci/postgres.sh stop DIR    stop the server and remove DIR
#   .ci/postgres.sh install     install the PostgreSQL server with apt-get when its binaries are
#                               missing (CI; needs root)
#
# DIR must be an empty directory the server's user can reach (mktemp -d under /tmp). initdb
# refuses to run as root, so as root the server runs as the `postgres` system user (or
# `nobody`), and DIR is handed to that user. `start` exits 3 with one line on stderr when no
# PostgreSQL binaries are installed, 1 when the server cannot be started.
set -euo pipefail

die() { echo "postgres.sh: $1" >&2; exit "${2:-1}"; }

# The directory holding initdb, pg_ctl and postgres: PATH first, then Debian's layout.
pg_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# The user the server runs as: the caller, or an unprivileged system user under root.
server_user() {
    if [ "$(id -u)" != 0 ]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

# Run a command as USER (no change when USER is the caller).
as_user() {
    local user="$1"
    shift
    if [ "$user" = "$(id -un)" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
    fi
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 40000))
    fi
}

start() {
    local dir="$1" bindir user port attempt
    bindir="$(pg_bindir)" || die "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql) or set FRT_TEST_POSTGRES to a server's URL" 3
    [ -d "$dir" ] || die "$dir: not a directory"
    [ -z "$(ls -A "$dir")" ] || die "$dir: not empty; give an empty directory"
    user="$(server_user)"
    touch "$dir/.frt-postgres"  # marks the directory as ours for `stop`
    if [ "$(id -u)" = 0 ]; then
        chown "$user" "$dir"
    fi
    as_user "$user" test -w "$dir" \
        || die "$dir: the server's user $user cannot write there (use a directory under /tmp)"
    as_user "$user" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: $(tail -n 1 "$dir/initdb.log")"
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        if as_user "$user" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 2>&1; then
            echo "postgresql://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        grep -q "could not bind" "$dir/server.log" 2>/dev/null || break
    done
    die "the server did not start (attempt $attempt): $(tail -n 1 "$dir/server.log" 2>/dev/null)"
}

stop() {
    local dir="$1" bindir owner
    [ -d "$dir" ] || return 0
    [ -e "$dir/.frt-postgres" ] || die "$dir: not a directory made by postgres.sh start; not removed"
    if [ -f "$dir/data/postmaster.pid" ] && bindir="$(pg_bindir)"; then
        owner="$(stat -c %U "$dir/data")"
        as_user "$owner" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
            || echo "postgres.sh: the server in $dir/data did not stop cleanly" >&2
    fi
    rm -rf "$dir"
}

install() {
    if pg_bindir >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        die "no PostgreSQL binaries, and apt-get as root is not available to install them" 3
    fi
    echo "installing the PostgreSQL server (apt-get install postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql \
        >/dev/null
    pg_bindir >/dev/null || die "apt-get installed postgresql but initdb was not found" 3
}

case "${1:-}" in
    start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    install) install ;;
    *) die "usage: $0 start DIR | stop DIR | install" ;;
esac
