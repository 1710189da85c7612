#!/usr/bin/env bash
# A local Prometheus (Debian's `prometheus` package) that scrapes the product's own /metrics, for
# the IT runbook's `metrics_query` tool, development and tests. Its own data dir under the run dir,
# listening on 127.0.0.1 only, not the system service.
#
# Usage: infra/prometheus.sh {up|down|status}
# Env:   PROMETHEUS_PORT (19090), PROMETHEUS_TARGETS (127.0.0.1:8080,127.0.0.1:8081),
#        PROMETHEUS_SCRAPE_KEY (API key sent as a bearer token; none by default),
#        PROMETHEUS_SCRAPE_INTERVAL (5s), PROMETHEUS_READY_TIMEOUT (seconds, 60),
#        PROMETHEUS_BIN (prometheus on PATH), LLMBUS_RUN_DIR
# Logs go to stderr; `up` and `status` print the base URL (http://127.0.0.1:<port>) on stdout.
# `up` on a running server rewrites the scrape config and reloads it (SIGHUP) when it changed.
set -euo pipefail

RUN_DIR="${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-19090}"
# Embedded mode (`npm start`) serves /metrics on the ingress and the audit API; distributed
# workers serve it on METRICS_PORT (add those host:port pairs here).
TARGETS="${PROMETHEUS_TARGETS:-127.0.0.1:8080,127.0.0.1:8081}"
SCRAPE_INTERVAL="${PROMETHEUS_SCRAPE_INTERVAL:-5s}"
READY_TIMEOUT="${PROMETHEUS_READY_TIMEOUT:-60}"
PROM_DIR="$RUN_DIR/prometheus"
CONFIG="$PROM_DIR/prometheus.yml"
PID_FILE="$PROM_DIR/prometheus.pid"
LOG_FILE="$PROM_DIR/prometheus.log"
KEY_FILE="$PROM_DIR/scrape-key"
URL="http://127.0.0.1:$PROMETHEUS_PORT"

log() { echo "[prometheus] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_bin() {
  if [[ -n "${PROMETHEUS_BIN:-}" ]]; then echo "$PROMETHEUS_BIN"; return; fi
  command -v prometheus || die "prometheus not found: apt-get install -y prometheus (or set PROMETHEUS_BIN)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file can outlive its process; check the pid is still our server with our config.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--config.file=$CONFIG" || return 1
  echo "$pid"
}

# Prints the scrape config for the current environment.
render_config() {
  local targets="" target
  IFS=',' read -r -a list <<<"$TARGETS"
  for target in "${list[@]}"; do
    target="${target// /}"
    [[ -z "$target" ]] && continue
    [[ "$target" =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]] ||
      die "PROMETHEUS_TARGETS: '$target' is not host:port (comma-separated, e.g. 127.0.0.1:8080,127.0.0.1:9464)"
    targets+="${targets:+, }'$target'"
  done
  cat <<EOF
# Written by infra/prometheus.sh on each up; edit the script or its variables, not this file.
global:
  scrape_interval: $SCRAPE_INTERVAL
  evaluation_interval: $SCRAPE_INTERVAL
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROMETHEUS_PORT']
  # The product's stages: /metrics needs the reader role, so a key is sent when one is given.
  - job_name: llmbus
    metrics_path: /metrics
    static_configs:
      - targets: [$targets]
EOF
  if [[ -n "${PROMETHEUS_SCRAPE_KEY:-}" ]]; then
    printf '    authorization:\n      type: Bearer\n      credentials_file: %s\n' "$KEY_FILE"
  fi
}

write_config() {
  mkdir -p "$PROM_DIR/data"
  if [[ -n "${PROMETHEUS_SCRAPE_KEY:-}" ]]; then
    (umask 077 && printf '%s' "$PROMETHEUS_SCRAPE_KEY" >"$KEY_FILE")
  else
    rm -f "$KEY_FILE"
  fi
  local next="$CONFIG.next"
  render_config >"$next"
  "$(dirname "$BIN")/promtool" check config "$next" >/dev/null 2>"$PROM_DIR/promtool.log" ||
    { cat "$PROM_DIR/promtool.log" >&2; rm -f "$next"; die "generated config does not pass promtool check"; }
  if cmp -s "$next" "$CONFIG"; then
    rm -f "$next"
    return 1 # unchanged
  fi
  mv -f "$next" "$CONFIG"
}

ready() { curl -fsS -o /dev/null --max-time 2 "$URL/-/ready" 2>/dev/null; }

wait_ready() {
  local pid=$1 deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || fail_start "the server process exited"
    if ready; then return 0; fi
    sleep 0.2
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
  mkdir -p "$PROM_DIR"
  exec 9>"$PROM_DIR/.lock"
  flock 9
}

cmd_up() {
  BIN="$(find_bin)"
  take_lock
  local pid
  if pid="$(running_pid)"; then
    if write_config; then
      log "scrape config changed: reloading (pid $pid)"
      kill -HUP "$pid"
    fi
    log "already running (pid $pid) on $URL, scraping $TARGETS"
    echo "$URL"
    return 0
  fi
  port_open "$PROMETHEUS_PORT" && die "port $PROMETHEUS_PORT is taken by another process; set PROMETHEUS_PORT"
  write_config || true
  local started=$SECONDS
  log "starting on $URL, scraping $TARGETS every $SCRAPE_INTERVAL (data and log in $PROM_DIR)"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  # setsid: outlives the shell that started it; `down` stops it. A day of data is plenty here.
  setsid "$BIN" --config.file="$CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
    --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    >"$LOG_FILE" 2>&1 </dev/null 9>&- &
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
