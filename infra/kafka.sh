#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) for local development and CI, without Docker.
# The broker's jars come from Maven Central (infra/kafka/pom.xml) because that is a registry every
# dev/CI machine reaches; a tarball download or a container image is not.
#
# Usage: infra/kafka.sh {up|down|status}
# Env:   KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (19093), LLMBUS_CACHE, LLMBUS_RUN_DIR,
#        KAFKA_READY_TIMEOUT (seconds, 90)
# Logs go to stderr; `up` prints the bootstrap address (host:port) on stdout.
set -euo pipefail

KAFKA_VERSION=4.1.1 # keep in step with infra/kafka/pom.xml and docker-compose.yml
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${LLMBUS_CACHE:-$HOME/.cache/llmbus}"
RUN_DIR="${LLMBUS_RUN_DIR:-${TMPDIR:-/tmp}/llmbus-infra}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"

LIB_DIR="$CACHE_DIR/kafka-$KAFKA_VERSION/lib"
KAFKA_DIR="$RUN_DIR/kafka"
PID_FILE="$KAFKA_DIR/kafka.pid"
LOG_FILE="$KAFKA_DIR/server.log"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

SERVICE=kafka SERVICE_DIR="$KAFKA_DIR" PID_MATCH="kafka.Kafka $KAFKA_DIR/server.properties" ADDRESS="$BOOTSTRAP"
LOG_TAIL_LINES=40
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# The JVM of a short-lived CLI tool: C1 only and a small heap start noticeably faster on 2 cores.
run_tool() { java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB_DIR/*" "$@"; }

resolve_jars() {
  # The marker holds the pom's hash, so editing the pom re-resolves instead of reusing stale jars.
  local pom_hash
  pom_hash="$(sha256sum "$HERE/kafka/pom.xml" | cut -d' ' -f1)"
  if [[ "$(cat "$LIB_DIR/.complete" 2>/dev/null)" == "$pom_hash" ]]; then return; fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install -y maven)"
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central into $LIB_DIR"
  local started=$SECONDS tmp="$LIB_DIR.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$LIB_DIR")"
  # Resolve into a scratch dir and rename, so an interrupted download never looks complete.
  # Maven logs to stdout even with -q: keep its output for the error case only.
  if ! mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    die "Maven could not resolve the Kafka jars (see above)"
  fi
  rm -f "$tmp.log"
  rm -rf "$LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  echo "$pom_hash" >"$LIB_DIR/.complete"
  log "resolved $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - started))s"
}

write_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by infra/kafka.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data

# One node: every internal topic must accept a replication factor of 1.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer internal partitions than the default 50: the coordinator loads them on first use,
# which is start-up latency every test run pays.
offsets.topic.num.partitions=8
transaction.state.log.num.partitions=8

# Tests join groups constantly; the default 3 s delay would be paid on every join.
group.initial.rebalance.delay.ms=0
# Topics come from the contracts registry; a typo must fail instead of creating a topic.
auto.create.topics.enable=false
# LLM prompts/responses with retrieved context can exceed the 1 MiB default.
message.max.bytes=2097152
replica.fetch.max.bytes=2097152

# Sized for a 2-core machine running tests next to the broker.
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
EOF
  # Kafka 4 logs through log4j2; without a config it prints only errors. Keep INFO for the
  # broker itself (start-up/shutdown lines help debugging) and quiet the chattiest loggers.
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.state.name=state.change.logger
logger.state.level=WARN
logger.cleaner.name=kafka.log.LogCleaner
logger.cleaner.level=WARN
logger.request.name=kafka.request.logger
logger.request.level=WARN
EOF
}

format_storage() {
  # Formatting twice would fail (and wipe nothing), so only format an empty data dir.
  if [[ -f "$KAFKA_DIR/data/meta.properties" ]]; then return; fi
  local cluster_id
  cluster_id="$(run_tool kafka.tools.StorageTool random-uuid)"
  log "formatting storage (cluster id $cluster_id)"
  run_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" >&2
}

# Ready when the broker lists topics: short client timeouts, so one probe fails fast and
# wait_ready, not the tool, owns the deadline.
probe() {
  port_open "$KAFKA_PORT" &&
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
      --command-config "$KAFKA_DIR/probe.properties" --list >/dev/null 2>&1
}

cmd_up() {
  take_lock
  if pid="$(running_pid)"; then
    log "already running (pid $pid) on $BOOTSTRAP"
    echo "$BOOTSTRAP"
    return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process; set KAFKA_PORT"
  port_open "$KAFKA_CONTROLLER_PORT" &&
    die "port $KAFKA_CONTROLLER_PORT is taken by another process; set KAFKA_CONTROLLER_PORT"
  command -v java >/dev/null || die "java not found: install a JRE 17+ (apt-get install -y openjdk-17-jre-headless)"

  resolve_jars
  write_config
  format_storage

  local started=$SECONDS
  log "starting on $BOOTSTRAP (data and log in $KAFKA_DIR)"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  # setsid: the broker must outlive the shell (or jest process) that started it and must not
  # receive that terminal's Ctrl-C; `down` is the way to stop it.
  setsid java -Xmx512m -Xms256m -XX:+ExitOnOutOfMemoryError \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$LIB_DIR/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  printf 'request.timeout.ms=3000\ndefault.api.timeout.ms=5000\n' >"$KAFKA_DIR/probe.properties"
  wait_ready "$pid" "$READY_TIMEOUT" 0.5
  log "ready in $((SECONDS - started))s (pid $pid)"
  echo "$BOOTSTRAP"
}

dispatch "$@"
