import 'reflect-metadata';
import { PostgresAuditStore } from '@llmbus/audit';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { chooseLogFormat, createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { startAuditor } from './index';

/** Distributed entry point: Kafka in, PostgreSQL for the trail, HTTP API on port 8081. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 8081,
    clientId: 'llmbus-auditor',
  });
  if (!config.databaseUrl)
    throw new ConfigError('DATABASE_URL', 'a postgres://user:password@host:port/database URL', undefined);
  const logger = createLogger({
    service: 'auditor',
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, false),
  });
  const store = await PostgresAuditStore.open({ connectionString: config.databaseUrl });
  const bus = distributedBus(config, logger, 'auditor');
  const app = await startAuditor({ bus, config, logger, store });
  logger.info({ url: app.url }, 'auditor started');
  closeOnSignals('auditor', logger, [() => app.close(), () => bus.close(), () => store.close()], {
    graceMs: config.shutdownGraceMs,
    inFlight: [bus],
  });
}

runMain('auditor', main);
