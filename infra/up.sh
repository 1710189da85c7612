#!/usr/bin/env bash
# Starts the local Kafka and PostgreSQL that integration/e2e tests and `npm start` use.
# Idempotent: whatever already runs is left alone, so this also answers "where are they?".
#
# Usage: infra/up.sh [--env]
#   --env  print `export KAFKA_BROKERS=...` and `export DATABASE_URL=...` on stdout, for
#          eval "$(infra/up.sh --env)"
# Progress and errors always go to stderr. Ports and dirs: see infra/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

print_env=false
case "${1:-}" in
  --env) print_env=true ;;
  "") ;;
  *) echo "usage: $0 [--env]" >&2; exit 2 ;;
esac

# Postgres starts in about a second, Kafka in several: overlap them.
pg_out="$(mktemp)"
trap 'rm -f "$pg_out"' EXIT
bash "$HERE/postgres.sh" up >"$pg_out" &
pg_pid=$!
kafka_rc=0
brokers="$(bash "$HERE/kafka.sh" up)" || kafka_rc=$?
pg_rc=0
wait "$pg_pid" || pg_rc=$?
((kafka_rc == 0 && pg_rc == 0)) || { echo "[infra] start failed (see above)" >&2; exit 1; }
database_url="$(cat "$pg_out")"

if $print_env; then
  echo "export KAFKA_BROKERS=$brokers"
  echo "export DATABASE_URL=$database_url"
else
  cat >&2 <<MSG
[infra] up: KAFKA_BROKERS=$brokers DATABASE_URL=$database_url
[infra] to use them in this shell: eval "\$(infra/up.sh --env)"; to stop: infra/down.sh
MSG
fi
