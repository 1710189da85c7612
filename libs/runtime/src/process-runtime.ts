import {
  BusTransport,
  EventBus,
  InMemoryTransport,
  KafkaTransport,
  PlatformaticKafkaTransport,
} from '@llmbus/bus';
import { ConfigError, type PlatformConfig } from '@llmbus/config';
import { shutdownTracing, startTracing, type Logger } from '@llmbus/observability';
import { COMPROMISE_DETECTOR, PiiAttestations } from '@llmbus/pii';

/**
 * The bus a process runs on: Kafka in distributed mode, in-process in embedded mode. On Kafka with
 * LLMBUS_PII_KEY set, the person names a stage tagged travel with its events as an authenticated
 * attestation (PiiAttestations), so the stages after it do not tag the same text again; embedded
 * stages share one process's tagger and need none.
 */
export function busFromConfig(config: PlatformConfig, logger: Logger, transport?: BusTransport): EventBus {
  const chosen = transport ?? (config.kafka ? kafkaTransport(config.kafka, logger) : new InMemoryTransport());
  return new EventBus(chosen, {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
    retryTopicDelaysMs: config.retryTopicDelaysMs,
    headerCarrier:
      config.kafka && config.piiKey
        ? new PiiAttestations(config.piiKey, COMPROMISE_DETECTOR, {}, config.piiPreviousKeys)
        : undefined,
  });
}

/**
 * The Kafka transport on the client LLMBUS_KAFKA_CLIENT names: kafkajs (default) or
 * @platformatic/kafka, with static membership when KAFKA_GROUP_INSTANCE_ID is set.
 */
function kafkaTransport(kafka: NonNullable<PlatformConfig['kafka']>, logger: Logger): BusTransport {
  const options = {
    ...kafka,
    logger,
    // A consumer that cannot rejoin its group leaves the process alive but idle: stop it so
    // its supervisor starts a fresh one.
    onFatal: (error: Error) =>
      failProcess(logger, 'a consumer stopped and could not rejoin its group', error),
  };
  return kafka.client === 'platformatic'
    ? new PlatformaticKafkaTransport(options)
    : new KafkaTransport(options);
}

/** The Kafka bus of a distributed service process; stops with a ConfigError outside distributed mode. */
export function distributedBus(config: PlatformConfig, logger: Logger, service: string): EventBus {
  if (!config.kafka)
    throw new ConfigError('LLMBUS_MODE', `distributed (the ${service} process runs on Kafka)`, config.mode);
  return busFromConfig(config, logger);
}

/** Something to close at shutdown, in the order given. */
export type Closer = () => Promise<unknown>;

/** Something holding in-flight work that can be cut short (the bus's handlers, the model calls). */
export interface InFlightWork {
  abortInFlight(reason: string): void;
}

/** How a process stops (see closeOnSignals). */
export interface ShutdownOptions {
  /**
   * Milliseconds in-flight work gets to finish after the first signal (LLMBUS_SHUTDOWN_GRACE_MS,
   * PlatformConfig.shutdownGraceMs); then it is aborted.
   */
  readonly graceMs: number;
  /** Aborted, in this order, when the grace period is over. */
  readonly inFlight?: readonly InFlightWork[];
  /** Milliseconds the closers still get once the work is aborted, before the process exits 1 anyway (default 5000). */
  readonly afterAbortMs?: number;
}

/** Exit code of a process stopped at once by a second signal: 128 + the signal's number. */
const EXIT_ON_SECOND: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

/** The process's shutdown path once closeOnSignals has set it up: close everything, exit with `code` (1 if a close failed). */
let shutdown: ((reason: string, code: number) => Promise<void>) | undefined;

/**
 * Closes everything on the first SIGTERM/SIGINT, in order (stages first, so they stop consuming and
 * their in-flight events finish and commit, then the bus, then stores and models), and exits 0, or
 * 1 if a close failed. In-flight work gets `graceMs`; then it is aborted through `inFlight` (model
 * calls end with ModelError `aborted`, and the bus leaves their events uncommitted, so on Kafka they
 * come again on the next start), and if the closers have still not finished `afterAbortMs` later the
 * process exits 1. A second signal exits at once, with 130 (SIGINT) or 143 (SIGTERM). The same
 * path runs, exiting 1, when failProcess is called.
 */
export function closeOnSignals(
  name: string,
  logger: Logger,
  closers: readonly Closer[],
  options: ShutdownOptions,
): void {
  const { graceMs, inFlight = [], afterAbortMs = 5_000 } = options;
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const abortInFlight = () => {
    logger.warn({ graceMs }, `${name}: in-flight work did not finish within ${graceMs} ms; aborting it`);
    for (const work of inFlight) {
      try {
        work.abortInFlight(`stopped after a grace period of ${graceMs} ms`);
      } catch (error) {
        logger.error({ err: error }, `${name}: could not abort in-flight work`);
      }
    }
    timers.push(
      setTimeout(() => {
        logger.error({ afterAbortMs }, `${name} did not stop within ${afterAbortMs} ms of aborting; exiting`);
        process.exit(1);
      }, afterAbortMs),
    );
  };
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { reason, graceMs },
      `${name} stopping: in-flight work has ${graceMs} ms to finish, then it is aborted and left for ` +
        'redelivery; signal again to exit at once',
    );
    timers.push(setTimeout(abortInFlight, graceMs));
    let failed = false;
    for (const close of closers) {
      try {
        await close();
      } catch (error) {
        failed = true;
        logger.error({ err: error }, `${name} did not stop cleanly`);
      }
    }
    // Last, so the spans of the work that finished while closing are exported too.
    await shutdownTracing().catch((error: unknown) =>
      logger.warn({ err: error }, 'spans not exported at shutdown'),
    );
    for (const timer of timers) clearTimeout(timer);
    process.exit(failed ? 1 : code);
  };
  shutdown = stop;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (!stopping) {
      void stop(signal, 0);
      return;
    }
    logger.warn({ signal }, `${name}: ${signal} again; exiting now without waiting for in-flight work`);
    process.exit(EXIT_ON_SECOND[signal]);
  };
  // Not `once`: every later signal must be handled too (Node's default would be no better than ignoring it).
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/**
 * Stops the process because it can no longer do its work: logs the cause, runs the shutdown path
 * closeOnSignals set up (or exits at once when there is none yet) and exits 1, so that its
 * supervisor (systemd, Kubernetes, Docker's restart policy) starts it again.
 */
export function failProcess(logger: Logger, reason: string, error: unknown): void {
  logger.fatal({ err: error }, `${reason}; exiting so the process is restarted`);
  if (shutdown) void shutdown(reason, 1);
  else process.exit(1);
}

/** Runs a process entry point; a start-up failure (bad config included) prints one line and exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  // Tracing first (only when OTEL_EXPORTER_OTLP_*ENDPOINT is set), so every span of the process is exported.
  Promise.resolve()
    .then(() => startTracing(name))
    .then(main)
    .catch((error: unknown) => {
      // Before the logger exists (bad config) stderr is all there is.
      process.stderr.write(
        `${name} failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exit(1);
    });
}
