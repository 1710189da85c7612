// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
import 'reflect-metadata';
import { PostgresAuditStore } from '@llmbus/audit';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { chooseLogFormat, createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { classifierModels, startRouter } from './index';

/** Distributed entry point: Kafka in and out, HTTP ingress on port 8080, statuses from the audit store. */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 8080,
    clientId: 'llmbus-router',
  });
  if (!config.databaseUrl)
    throw new ConfigError(
      'DATABASE_URL',
      'a postgres://user:password@host:port/database URL of the audit store (a role with SELECT on audit_events is enough)',
      undefined,
    );
  const logger = createLogger({
    service: 'router',
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, false),
  });
  // Read only, and connected on first use: the router starts (not ready) while the store is down.
  const statusStore = PostgresAuditStore.reader({ connectionString: config.databaseUrl });
  // Models are loaded on first use: only a workflow with a classify: step makes the router load one.
  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  const bus = distributedBus(config, logger, 'router');
  const app = await startRouter({
    bus,
    config,
    logger,
    statusStore,
    classifierModels: classifierModels(providers),
  });
  logger.info({ url: app.url }, 'router started');
  closeOnSignals(
    'router',
    logger,
    [() => app.close(), () => bus.close(), () => statusStore.close(), () => providers.close()],
    { graceMs: config.shutdownGraceMs, inFlight: [bus, providers] },
  );
}

runMain('router', main);
