#!/usr/bin/env bash
# Starts the local Kafka, PostgreSQL, Prometheus and Redis that integration/e2e tests, the IT
# runbook's tools and `npm start` use. Idempotent: whatever already runs is left alone, so this
# also answers "where are they?".
#
# Usage: infra/up.sh [--env]
#   --env  print `export KAFKA_BROKERS=...`, `export DATABASE_URL=...`, `export PROMETHEUS_URL=...`
#          and `export REDIS_URL=...` on stdout, for eval "$(infra/up.sh --env)"
# INFRA_SERVICES (default "kafka postgres prometheus redis") picks a subset, e.g. "kafka postgres".
# Progress and errors always go to stderr. Ports and dirs: see infra/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

print_env=false
case "${1:-}" in
  --env) print_env=true ;;
  "") ;;
  *) echo "usage: $0 [--env]" >&2; exit 2 ;;
esac

ALL=(kafka postgres prometheus redis)
declare -A VARIABLE=([kafka]=KAFKA_BROKERS [postgres]=DATABASE_URL [prometheus]=PROMETHEUS_URL [redis]=REDIS_URL)
read -r -a wanted <<<"${INFRA_SERVICES:-${ALL[*]}}"
wanted=("${wanted[@]//,/}")
for service in "${wanted[@]}"; do
  [[ -n "${VARIABLE[$service]:-}" ]] ||
    { echo "[infra] INFRA_SERVICES: unknown service '$service' (known: ${ALL[*]})" >&2; exit 2; }
done

# Each service starts in its own process (Kafka takes several seconds, the rest about one):
# overlap them, then report in a fixed order.
out_dir="$(mktemp -d)"
trap 'rm -rf "$out_dir"' EXIT
declare -A pids
for service in "${wanted[@]}"; do
  bash "$HERE/$service.sh" up >"$out_dir/$service" &
  pids[$service]=$!
done
failed=()
for service in "${wanted[@]}"; do
  wait "${pids[$service]}" || failed+=("$service")
done
((${#failed[@]} == 0)) || { echo "[infra] start failed: ${failed[*]} (see above)" >&2; exit 1; }

summary=""
for service in "${ALL[@]}"; do
  [[ -f "$out_dir/$service" ]] || continue
  value="$(cat "$out_dir/$service")"
  if $print_env; then echo "export ${VARIABLE[$service]}=$value"; fi
  summary+=" ${VARIABLE[$service]}=$value"
done
if ! $print_env; then
  cat >&2 <<MSG
[infra] up:$summary
[infra] to use them in this shell: eval "\$(infra/up.sh --env)"; to stop: infra/down.sh
MSG
fi
