import { BusTransport, EventBus, InMemoryTransport, KafkaTransport } from '@llmbus/bus';
import { ConfigError, type PlatformConfig } from '@llmbus/config';
import { shutdownTracing, startTracing, type Logger } from '@llmbus/observability';

/** The bus a process runs on: Kafka in distributed mode, in-process in embedded mode. */
export function busFromConfig(config: PlatformConfig, logger: Logger, transport?: BusTransport): EventBus {
  const chosen =
    transport ??
    (config.kafka
      ? new KafkaTransport({
          ...config.kafka,
          logger,
          // A consumer that cannot rejoin its group leaves the process alive but idle: stop it so
          // its supervisor starts a fresh one.
          onFatal: (error) => failProcess(logger, 'a consumer stopped and could not rejoin its group', error),
        })
      : new InMemoryTransport());
  return new EventBus(chosen, {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
    retryTopicDelaysMs: config.retryTopicDelaysMs,
  });
}

/** The Kafka bus of a distributed service process; stops with a ConfigError outside distributed mode. */
export function distributedBus(config: PlatformConfig, logger: Logger, service: string): EventBus {
  if (!config.kafka)
    throw new ConfigError('LLMBUS_MODE', `distributed (the ${service} process runs on Kafka)`, config.mode);
  return busFromConfig(config, logger);
}

/** Something to close at shutdown, in the order given. */
export type Closer = () => Promise<unknown>;

/** The process's shutdown path once closeOnSignals has set it up: close everything, exit with `code` (1 if a close failed). */
let shutdown: ((reason: string, code: number) => Promise<void>) | undefined;

/**
 * Closes everything on SIGTERM/SIGINT, in order (stages first so in-flight events finish and
 * commit, then the bus, then stores and models), and exits 0, or 1 if a close failed. The same path
 * runs, exiting 1, when failProcess is called.
 */
export function closeOnSignals(name: string, logger: Logger, closers: readonly Closer[]): void {
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, `${name} stopping`);
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
    process.exit(failed ? 1 : code);
  };
  shutdown = stop;
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  process.once('SIGINT', () => void stop('SIGINT', 0));
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
