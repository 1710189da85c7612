// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
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
