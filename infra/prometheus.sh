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

SERVICE=prometheus SERVICE_DIR="$PROM_DIR" PID_MATCH="--config.file=$CONFIG" ADDRESS="$URL"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_bin() {
  if [[ -n "${PROMETHEUS_BIN:-}" ]]; then echo "$PROMETHEUS_BIN"; return; fi
  command -v prometheus || die "prometheus not found: apt-get install -y prometheus (or set PROMETHEUS_BIN)"
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

probe() { curl -fsS -o /dev/null --max-time 2 "$URL/-/ready" 2>/dev/null; }

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
  wait_ready "$pid" "$READY_TIMEOUT" 0.2
  log "ready in $((SECONDS - started))s (pid $pid)"
  echo "$URL"
}

dispatch "$@"
