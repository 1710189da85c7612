#!/usr/bin/env bash
# What the infra scripts share: logging, the lock, the pid file that must still name our server,
# the port probe, the wait for readiness and the stop with a deadline. Sourced, never run.
#
# A script sets, before calling anything here:
#   SERVICE      name in log lines ("kafka")
#   SERVICE_DIR  its directory under the run dir (lock, pid and log live there)
#   PID_FILE     the server's pid file (when the script starts the server itself)
#   LOG_FILE     the server's log (its tail is printed when a start fails)
#   PID_MATCH    a fixed string the server's command line contains (its config file, its port):
#                a pid file can outlive its process, and the pid can be reused by another one
#   ADDRESS      what `up` and `status` print on stdout (a URL or host:port)
# and defines `probe` (exit 0 when the server answers) for `wait_ready`.

log() { echo "[$SERVICE] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Exit 0 when something accepts TCP connections on 127.0.0.1:<port>.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid of our running server; exit 1 when the pid file is missing, stale or reused.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -F -- "$PID_MATCH" || return 1
  echo "$pid"
}

# Parallel callers (two jest projects, a developer's shell) must not start or stop it twice.
# The lock is fd 9: a started server must not inherit it (start it with `9>&-`).
take_lock() {
  mkdir -p "$SERVICE_DIR"
  exec 9>"$SERVICE_DIR/.lock"
  flock 9
}

# Stops the server: SIGTERM, up to 30 s for a clean shutdown, then SIGKILL.
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

# Prints the reason and the log's last lines, stops what was started and exits 1.
fail_start() {
  log "ERROR: $1; last lines of $LOG_FILE:"
  tail -n "${LOG_TAIL_LINES:-30}" "$LOG_FILE" >&2 || true
  stop_server
  exit 1
}

# wait_ready <pid> <timeout seconds> <poll interval seconds>: until `probe` answers, failing the
# start when the process exits or the timeout passes.
wait_ready() {
  local pid=$1 deadline=$((SECONDS + $2)) interval=$3
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || fail_start "the server process exited"
    if probe; then return 0; fi
    sleep "$interval"
  done
  fail_start "not ready after ${2}s"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    log "running (pid $pid) on $ADDRESS"
    echo "$ADDRESS"
  else
    log "not running"
    return 3 # LSB "program is not running"
  fi
}

# The command line every script takes: {up|down|status}; `up` is the script's own cmd_up.
dispatch() {
  case "${1:-}" in
    up) cmd_up ;;
    down) take_lock; stop_server ;;
    status) cmd_status ;;
    *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
  esac
}
