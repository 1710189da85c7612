// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
import 'reflect-metadata';
import { ConfigError, loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, isTrustedForPii, newRedis, parseModelsConfig } from '@llmbus/models';
import { chooseLogFormat, createLogger } from '@llmbus/observability';
import { closeOnSignals, distributedBus, runMain } from '@llmbus/runtime';
import { PostgresAuditStore } from '@llmbus/audit';
import { chatModelChooser, startGenerator } from './index';
import { RedisToolResultCache } from './redis-tool-result-cache';
import { redisToolCallClaims } from './redis-tool-call-claims';

/** Distributed entry point: Kafka in and out, the configured model provider (local or OpenAI-compatible). */
async function main(): Promise<void> {
  const config = loadPlatformConfig(process.env, {
    mode: 'distributed',
    httpPort: 0,
    clientId: 'llmbus-generator',
    servesHttp: false,
  });
  const logger = createLogger({
    service: 'generator',
    level: config.logLevel,
    format: chooseLogFormat(config.logFormat, false),
  });
  const providers = createModelProviders(parseModelsConfig(process.env), { logger, traced: true });
  const untrusted = providers.available.filter((m) => m.capabilities.includes('chat') && !isTrustedForPii(m));
  if (untrusted.length > 0 && config.piiKey === undefined) {
    throw new ConfigError(
      'LLMBUS_PII_KEY',
      `32 random bytes, base64 or hex (openssl rand -base64 32), the same on the validator: ${untrusted.map((m) => m.id).join(', ')} ` +
        'not trusted for PII, so prompts are masked and the mapping travels encrypted',
      undefined,
    );
  }
  const bus = distributedBus(config, logger, 'generator');
  // ticket_history reads the tenant's past requests from the audit store, when there is one.
  const ticketReader =
    config.databaseUrl === undefined
      ? undefined
      : PostgresAuditStore.reader({ connectionString: config.databaseUrl });
  const toolResultCache = process.env['REDIS_URL']?.trim()
    ? new RedisToolResultCache(
        newRedis(process.env['REDIS_URL'].trim(), { lazyConnect: true, maxRetriesPerRequest: 1 }),
      )
    : undefined;
  // Claims of write/high tool calls: in Redis they survive a crash of this process, in memory not.
  const toolCallClaims = process.env['REDIS_URL']?.trim()
    ? redisToolCallClaims(process.env['REDIS_URL'].trim())
    : undefined;
  if (toolCallClaims === undefined)
    logger.warn(
      'REDIS_URL is not set: claims of write and high tool calls live in process memory, so a call in flight when this process dies may run again after a restart',
    );
  const app = await startGenerator({
    bus,
    config,
    logger,
    models: providers.chat,
    selectModel: chatModelChooser(providers),
    responseCache: providers.responseCache,
    ...(ticketReader === undefined ? {} : { ticketReader }),
    ...(toolResultCache === undefined ? {} : { toolResultCache }),
    ...(toolCallClaims === undefined ? {} : { toolCallClaims }),
  });
  logger.info({ chatModel: providers.chatModel.id }, 'generator started');
  closeOnSignals(
    'generator',
    logger,
    [
      () => app.close(),
      () => bus.close(),
      () => providers.close(),
      () => ticketReader?.close() ?? Promise.resolve(),
      () => toolResultCache?.close() ?? Promise.resolve(),
      () => toolCallClaims?.close() ?? Promise.resolve(),
    ],
    { graceMs: config.shutdownGraceMs, inFlight: [bus, providers] },
  );
}

runMain('generator', main);
