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

SERVICE=redis SERVICE_DIR="$REDIS_DIR" PID_MATCH="redis-server 127.0.0.1:$REDIS_PORT" ADDRESS="$URL"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_bin() {
  if [[ -n "${REDIS_BIN:-}" ]]; then echo "$REDIS_BIN"; return; fi
  command -v redis-server || die "redis-server not found: apt-get install -y redis-server (or set REDIS_BIN)"
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
probe() { ping_ok; }

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
  wait_ready "$pid" "$READY_TIMEOUT" 0.1
  log "ready in $((SECONDS - started))s (pid $pid)"
  echo "$URL"
}

dispatch "$@"
