import 'reflect-metadata';
import { PostgresAuditStore } from '@llmbus/audit';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createLogger } from '@llmbus/observability';
import { startAuditor } from './index';

/** Distributed entry point: Kafka in, PostgreSQL for the trail, HTTP API on port 8081. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, { mode: 'distributed', httpPort: 8081, clientId: 'llmbus-auditor' });
  if (!config.kafka) throw new ConfigError('LLMBUS_MODE', 'distributed (the auditor process runs on Kafka)', config.mode);
  if (!config.databaseUrl) throw new ConfigError('DATABASE_URL', 'a postgres://user:password@host:port/database URL', undefined);
  const logger = createLogger({ service: 'auditor', level: config.logLevel });
  const store = await PostgresAuditStore.open({ connectionString: config.databaseUrl });
  const bus = new EventBus(
    new KafkaTransport({ ...config.kafka, logger }),
    {
      logger,
      topicPrefix: config.topicPrefix,
      maxEventBytes: config.maxEventBytes,
      maxAttempts: config.maxAttempts,
      retryDelayMs: config.retryDelayMs,
    },
  );
  const app = await startAuditor({ bus, config, logger, store });
  logger.info({ url: app.url }, 'auditor started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'auditor stopping');
    try {
      await app.close();
      await bus.close();
      await store.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'auditor did not stop cleanly');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Before the logger exists (bad config) stderr is all there is.
  process.stderr.write(`auditor failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
