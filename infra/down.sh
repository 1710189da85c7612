#!/usr/bin/env bash
# Stops the local Kafka and PostgreSQL started by infra/up.sh. Data stays in the run dir, so the
# next `up` is fast; delete ${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra} for a clean slate.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

bash "$HERE/postgres.sh" down &
pg_pid=$!
kafka_rc=0
bash "$HERE/kafka.sh" down || kafka_rc=$?
pg_rc=0
wait "$pg_pid" || pg_rc=$?
exit $((kafka_rc || pg_rc))
