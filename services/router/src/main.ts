import 'reflect-metadata';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { startRouter } from './index';

/** Distributed entry point: Kafka in and out, HTTP ingress on port 8080. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 8080, clientId: 'llmbus-router' });
  if (!config.kafka) throw new ConfigError('LLMBUS_MODE', 'distributed (the router process runs on Kafka)', config.mode);
  const logger = createLogger({ service: 'router', level: config.logLevel });
  const bus = new EventBus(new KafkaTransport({ ...config.kafka, logger }), {
    logger,
    topicPrefix: config.topicPrefix,
    maxEventBytes: config.maxEventBytes,
    maxAttempts: config.maxAttempts,
    retryDelayMs: config.retryDelayMs,
  });
  const app = await startRouter({ bus, config, logger });
  logger.info({ url: app.url }, 'router started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'router stopping');
    try {
      await app.close();
      await bus.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'router did not stop cleanly');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Before the logger exists (bad config) stderr is all there is.
  process.stderr.write(`router failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
