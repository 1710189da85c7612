#!/usr/bin/env bash
# A throwaway PostgreSQL for local development and CI, without Docker or the system service:
# its own cluster under the run dir, listening on 127.0.0.1 only, with database `llmbus`.
#
# Usage: infra/postgres.sh {up|down|status}
# Env:   PG_PORT (15432), PG_BIN (newest /usr/lib/postgresql/*/bin), LLMBUS_RUN_DIR
# Logs go to stderr; `up` prints the connection URL on stdout.
set -euo pipefail

RUN_DIR="${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra}"
PG_PORT="${PG_PORT:-15432}"
PG_DIR="$RUN_DIR/postgres"
DATA_DIR="$PG_DIR/data"
LOG_FILE="$PG_DIR/postgres.log"
DATABASE=llmbus
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$DATABASE"

SERVICE=postgres SERVICE_DIR="$PG_DIR" ADDRESS="$DATABASE_URL"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local newest
  newest="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$newest" && -x "$newest/initdb" ]] ||
    die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: apt-get install -y postgresql"
  echo "$newest"
}
BIN="$(find_bin)"

# PostgreSQL refuses to run as root, so as root the server tools run as the `postgres` OS user
# (the Debian package creates it). psql only talks TCP with trust auth and runs as anyone.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

is_running() { [[ -d "$DATA_DIR" ]] && as_owner "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; }

psql_admin() { "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

init_cluster() {
  if [[ -f "$DATA_DIR/PG_VERSION" ]]; then return; fi
  mkdir -p "$PG_DIR"
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user to run the server as (apt-get install -y postgresql creates it)"
    chown postgres: "$PG_DIR"
    as_owner test -x "$PG_DIR" || die "user postgres cannot reach $PG_DIR; set LLMBUS_RUN_DIR to a world-traversable path"
    # initdb's child shells redirect to /dev/null as the postgres user; a /dev/null that lost its
    # world-writable mode (some tool chmod-ed it) fails initdb with "cannot create /dev/null".
    if [[ -c /dev/null ]] && ! as_owner test -w /dev/null; then
      log "/dev/null is not writable by user postgres (mode $(stat -c %a /dev/null)); restoring mode 666"
      chmod 666 /dev/null
    fi
  fi
  log "initdb in $DATA_DIR ($("$BIN/postgres" --version))"
  # trust + no locale: a local test cluster, reachable only on 127.0.0.1, identical on every machine.
  as_owner "$BIN/initdb" -D "$DATA_DIR" -A trust -U postgres -E UTF8 --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
}

start_server() {
  port_open "$PG_PORT" && die "port $PG_PORT is taken by another process; set PG_PORT"
  log "starting on 127.0.0.1:$PG_PORT (data and log in $PG_DIR)"
  # Durability settings off: the cluster is disposable and tests should not wait on fsync.
  local opts="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off"
  opts+=" -c synchronous_commit=off -c full_page_writes=off"
  # 9>&-: the server must not inherit our lock, or it would hold it for its whole life.
  if ! as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -o "$opts" -w -t 60 start >/dev/null 9>&-; then
    log "ERROR: start failed; last lines of $LOG_FILE:"
    tail -n 30 "$LOG_FILE" >&2 || true
    exit 1
  fi
}

ensure_database() {
  if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]]; then
    psql_admin -c "CREATE DATABASE $DATABASE"
    log "created database $DATABASE"
  fi
}

# One caller at a time. The lock lives outside PG_DIR, which belongs to the postgres user
# (this replaces lib.sh's take_lock; pg_ctl, not a pid file, knows whether the server runs).
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/.postgres.lock"
  flock 9
}

cmd_up() {
  take_lock
  local started=$SECONDS
  if is_running; then
    log "already running on 127.0.0.1:$PG_PORT"
  else
    init_cluster
    start_server
  fi
  ensure_database
  log "ready in $((SECONDS - started))s"
  echo "$DATABASE_URL"
}

cmd_down() {
  take_lock
  if ! is_running; then log "not running"; return 0; fi
  log "stopping"
  # fast = roll back open transactions and shut down cleanly; immediate only if that hangs.
  as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop >/dev/null ||
    as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop >/dev/null
  log "stopped"
}

cmd_status() {
  if is_running; then
    log "running on 127.0.0.1:$PG_PORT"
    echo "$DATABASE_URL"
  else
    log "not running"
    return 3 # LSB "program is not running"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
