// Where integration and e2e tests find the services that globalSetup found or started.
import { randomBytes } from 'node:crypto';

const HOW_TO_START =
  'run the tests through jest (its globalSetup finds or starts the services) or eval "$(infra/up.sh --env)"';

/** Kafka bootstrap addresses from KAFKA_BROKERS (comma-separated host:port). */
export function kafkaBrokers(): string[] {
  const brokers = (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  if (brokers.length === 0) throw new Error(`KAFKA_BROKERS is not set: ${HOW_TO_START}`);
  return brokers;
}

/** PostgreSQL connection URL from DATABASE_URL. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error(`DATABASE_URL is not set: ${HOW_TO_START}`);
  return url;
}

/** Redis connection URL from REDIS_URL (infra/up.sh starts redis-server). */
export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error(`REDIS_URL is not set: ${HOW_TO_START}`);
  return url;
}

/**
 * A topic/group prefix no other test or run shares, e.g. `t-router-retries-3f9a1c2e.`.
 * Kafka names allow [a-zA-Z0-9._-] and 249 characters; the name part is cut to stay well inside.
 */
export function uniquePrefix(name: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'test';
  return `t-${slug}-${randomBytes(4).toString('hex')}.`;
}
