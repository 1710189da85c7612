#!/usr/bin/env bash
# Stops the local Kafka, PostgreSQL, Prometheus and Redis started by infra/up.sh (all four, or the
# INFRA_SERVICES subset). Data stays in the run dir, so the next `up` is fast; delete
# ${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra} for a clean slate.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

read -r -a wanted <<<"${INFRA_SERVICES:-kafka postgres prometheus redis}"
wanted=("${wanted[@]//,/}")
declare -A pids
for service in "${wanted[@]}"; do
  [[ -f "$HERE/$service.sh" ]] || { echo "[infra] INFRA_SERVICES: unknown service '$service'" >&2; exit 2; }
  bash "$HERE/$service.sh" down &
  pids[$service]=$!
done
rc=0
for service in "${wanted[@]}"; do
  wait "${pids[$service]}" || rc=1
done
exit "$rc"
