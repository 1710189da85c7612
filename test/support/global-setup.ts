// Jest globalSetup for the integration and e2e projects: find or start Kafka, PostgreSQL and Redis once,
// wait until they really serve, and hand their addresses to the test workers through process.env
// (workers are started after globalSetup and inherit its environment).
//
// Where the services come from, first match wins:
//   1. KAFKA_BROKERS / DATABASE_URL / REDIS_URL already set (CI after infra/up.sh, or a developer's own)
//   2. a Docker engine answers: testcontainers (LLMBUS_TEST_INFRA=testcontainers forces this)
//   3. infra/kafka.sh, infra/postgres.sh and infra/redis.sh (LLMBUS_TEST_INFRA=scripts forces this)
// A service is stopped in globalTeardown only if this setup started it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { waitForKafka } from './kafka-topics';

type Service = 'kafka' | 'postgres' | 'redis';
type Source = 'environment' | 'testcontainers' | 'infra scripts';

/** What globalTeardown needs; kept on globalThis, the one object setup and teardown share. */
export interface TestInfraState {
  sources: Record<Service, Source>;
  /** Stops what this setup started; empty when everything came from the environment. */
  stops: Array<() => Promise<void>>;
}

const STATE_KEY = '__llmbusTestInfra';
const INFRA_DIR = path.resolve(__dirname, '../../infra');
const KAFKA_READY_MS = 90_000;
const POSTGRES_READY_MS = 30_000;
const REDIS_READY_MS = 30_000;
const DOCKER_PROBE_MS = 5_000;
// cp-kafka because @testcontainers/kafka drives Confluent's image scripts; 8.1 is Apache Kafka 4.1.
const TC_KAFKA_IMAGE = 'confluentinc/cp-kafka:8.1.0';
const TC_POSTGRES_IMAGE = 'postgres:16';
const TC_REDIS_IMAGE = 'redis:7';

export function testInfraState(): TestInfraState | undefined {
  return (globalThis as Record<string, unknown>)[STATE_KEY] as TestInfraState | undefined;
}

function log(message: string): void {
  process.stderr.write(`[test infra] ${message}\n`);
}

export default async function globalSetup(): Promise<void> {
  // Jest runs this once per project (integration, e2e) in the same process: the second is free.
  const existing = testInfraState();
  if (existing) return;

  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const started = Date.now();
  const state: TestInfraState = {
    sources: { kafka: 'environment', postgres: 'environment', redis: 'environment' },
    stops: [],
  };
  // Registered before starting anything, so teardown still stops what a failed setup started.
  (globalThis as Record<string, unknown>)[STATE_KEY] = state;

  try {
    await provideServices(state);
  } catch (error) {
    // Jest skips globalTeardown when globalSetup throws: stop what we started ourselves.
    await stopStarted(state);
    throw error;
  }
  const databaseUrl = process.env.DATABASE_URL ?? '';
  log(
    `kafka ${process.env.KAFKA_BROKERS} (from ${state.sources.kafka}), ` +
      `postgres ${redact(databaseUrl)} (from ${state.sources.postgres}), ` +
      `redis ${redact(process.env.REDIS_URL ?? '')} (from ${state.sources.redis}), ready in ${Date.now() - started} ms`,
  );
}

async function provideServices(state: TestInfraState): Promise<void> {
  const missing = (['kafka', 'postgres', 'redis'] as const).filter(
    (service) => !process.env[ENV_NAME[service]],
  );
  if (missing.length > 0) {
    const source = await chooseSource();
    const start = source === 'testcontainers' ? startWithTestcontainers : startWithInfraScripts;
    await Promise.all(
      missing.map(async (service) => {
        state.sources[service] = source;
        process.env[ENV_NAME[service]] = await start(service, state);
      }),
    );
  }
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',');
  const databaseUrl = process.env.DATABASE_URL ?? '';
  await Promise.all([
    waitForKafka(brokers, KAFKA_READY_MS),
    waitForPostgres(databaseUrl, POSTGRES_READY_MS),
    waitForRedis(process.env.REDIS_URL ?? '', REDIS_READY_MS),
  ]);
}

/** Stops, in reverse start order, whatever this setup started; safe to call more than once. */
export async function stopStarted(state: TestInfraState): Promise<void> {
  const failures: string[] = [];
  for (const stop of state.stops.splice(0).reverse()) {
    try {
      await stop();
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) throw new Error(`stopping test services failed: ${failures.join('; ')}`);
}

const ENV_NAME: Record<Service, 'KAFKA_BROKERS' | 'DATABASE_URL' | 'REDIS_URL'> = {
  kafka: 'KAFKA_BROKERS',
  postgres: 'DATABASE_URL',
  redis: 'REDIS_URL',
};

async function chooseSource(): Promise<Source> {
  const forced = process.env.LLMBUS_TEST_INFRA;
  if (forced === 'scripts') return 'infra scripts';
  if (forced === 'testcontainers') return 'testcontainers';
  if (forced && forced !== 'auto') {
    throw new Error(`LLMBUS_TEST_INFRA=${forced} is not one of auto, testcontainers, scripts`);
  }
  if (await dockerAnswers()) return 'testcontainers';
  log('no Docker engine answered: starting services with infra/*.sh');
  return 'infra scripts';
}

async function dockerAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), DOCKER_PROBE_MS);
  });
  try {
    return await Promise.race([getContainerRuntimeClient().then(() => true), timeout]);
  } catch {
    // testcontainers throws "Could not find a working container runtime strategy": that is the answer.
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function startWithTestcontainers(service: Service, state: TestInfraState): Promise<string> {
  if (service === 'kafka') {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const container = await new KafkaContainer(TC_KAFKA_IMAGE)
      // The same broker settings as infra/kafka.sh, so tests see one behaviour.
      .withEnvironment({ KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false', KAFKA_MESSAGE_MAX_BYTES: '2097152' })
      .start();
    state.stops.push(async () => void (await container.stop()));
    return `${container.getHost()}:${container.getMappedPort(9093)}`;
  }
  if (service === 'redis') {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer(TC_REDIS_IMAGE).withExposedPorts(6379).start();
    state.stops.push(async () => void (await container.stop()));
    return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer(TC_POSTGRES_IMAGE).withDatabase('llmbus').start();
  state.stops.push(async () => void (await container.stop()));
  return container.getConnectionUri();
}

async function startWithInfraScripts(service: Service, state: TestInfraState): Promise<string> {
  const script = path.join(INFRA_DIR, `${service}.sh`);
  // Leave alone what a developer already runs: only what we start here is ours to stop.
  const wasRunning = (await runScript(script, 'status')).code === 0;
  const up = await runScript(script, 'up');
  if (up.code !== 0) throw new Error(`${script} up failed with exit code ${up.code} (its log is above)`);
  if (!wasRunning) {
    state.stops.push(async () => {
      const down = await runScript(script, 'down');
      if (down.code !== 0) throw new Error(`${script} down failed with exit code ${down.code}`);
    });
  }
  // The scripts print exactly one line on stdout: the address.
  return up.stdout.trim();
}

function runScript(script: string, command: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

async function waitForPostgres(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 1000)));
    } finally {
      await client.end().catch(() => undefined); // closing a socket that never opened may reject
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`PostgreSQL at ${redact(url)} not ready after ${timeoutMs} ms: ${reason}`);
}

async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 1000)));
    } finally {
      client.disconnect();
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`Redis at ${redact(url)} not ready after ${timeoutMs} ms: ${reason}`);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
