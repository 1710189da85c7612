#!/usr/bin/env bash
# A local Redis (Debian's `redis-server` package) for development and tests: its own config and
# dir under the run dir, listening on 127.0.0.1 only, no persistence (the data is disposable),
# not the system service.
#
# Usage: infra/redis.sh {up|down|status}
# Env:   REDIS_PORT (16379), REDIS_READY_TIMEOUT (seconds, 30), REDIS_BIN (redis-server on PATH),
#        LLMBUS_RUN_DIR
# Logs go to stderr; `up` and `status` print the URL (redis://127.0.0.1:<port>) on stdout.
set -euo pipefail

RUN_DIR="${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra}"
REDIS_PORT="${REDIS_PORT:-16379}"
READY_TIMEOUT="${REDIS_READY_TIMEOUT:-30}"
REDIS_DIR="$RUN_DIR/redis"
CONFIG="$REDIS_DIR/redis.conf"
PID_FILE="$REDIS_DIR/redis.pid"
LOG_FILE="$REDIS_DIR/redis.log"
URL="redis://127.0.0.1:$REDIS_PORT"

log() { echo "[redis] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_bin() {
  if [[ -n "${REDIS_BIN:-}" ]]; then echo "$REDIS_BIN"; return; fi
  command -v redis-server || die "redis-server not found: apt-get install -y redis-server (or set REDIS_BIN)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file can outlive its process; check the pid is still a redis-server on our port.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server 127.0.0.1:$REDIS_PORT" || return 1
  echo "$pid"
}

# PING over the wire with bash alone: redis-cli is a separate Debian package (redis-tools).
ping_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || exit 1
    [[ "$reply" == "+PONG"* ]]
  ) 2>/dev/null
}

write_config() {
  mkdir -p "$REDIS_DIR"
  cat >"$CONFIG" <<EOF
# Written by infra/redis.sh on each start; edit the script, not this file.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
dir $REDIS_DIR
logfile $LOG_FILE
daemonize no
# Disposable: no snapshots, no append-only file.
save ""
appendonly no
EOF
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || fail_start "the server process exited"
    if ping_ok; then return 0; fi
    sleep 0.1
  done
  fail_start "not ready after ${READY_TIMEOUT}s"
}

fail_start() {
  log "ERROR: $1; last lines of $LOG_FILE:"
  tail -n 30 "$LOG_FILE" >&2 || true
  stop_server
  exit 1
}

stop_server() {
  local pid
  pid="$(running_pid)" || { rm -f "$PID_FILE"; log "not running"; return 0; }
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "still alive after 30s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

take_lock() {
  mkdir -p "$REDIS_DIR"
  exec 9>"$REDIS_DIR/.lock"
  flock 9
}

cmd_up() {
  local bin pid
  bin="$(find_bin)"
  take_lock
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $URL"
    echo "$URL"
    return 0
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; set REDIS_PORT"
  write_config
  local started=$SECONDS
  log "starting on $URL (config and log in $REDIS_DIR)"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  setsid "$bin" "$CONFIG" >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  log "ready in $((SECONDS - started))s (pid $pid)"
  echo "$URL"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    log "running (pid $pid) on $URL"
    echo "$URL"
  else
    log "not running"
    return 3 # LSB "program is not running"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) take_lock; stop_server ;;
  status) cmd_status ;;
  *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
