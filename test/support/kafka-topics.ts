// Kafka set-up for tests: wait until the broker can really serve, and create topics idempotently.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';

/** A topic as the contracts registry (`TOPICS` in @llmbus/contracts) declares it. */
export interface TopicSpec {
  name: string;
  partitions: number;
  /** Milliseconds a record is kept (for `compact`, how long before a tombstone may go). */
  retentionMs: number;
  cleanupPolicy: 'delete' | 'compact';
}

// The group join in waitForKafka needs a topic to subscribe to; auto-creation is off on our brokers.
const READINESS_TOPIC: TopicSpec = {
  name: 'llmbus-test.readiness',
  partitions: 1,
  retentionMs: 60 * 60 * 1000,
  cleanupPolicy: 'delete',
};

function client(brokers: string[], clientId: string): Kafka {
  // Quiet: failed attempts are expected while a broker starts; the caller reports the last error.
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/**
 * Creates those of `topics` that do not exist yet and waits until their partitions have leaders.
 * Existing topics are left as they are (their partition count and configs are not checked).
 */
export async function ensureTopics(brokers: string[], topics: readonly TopicSpec[]): Promise<void> {
  const admin = client(brokers, 'llmbus-test-topics').admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = new Map(topics.filter((t) => !existing.has(t.name)).map((t) => [t.name, t]));
    if (missing.size === 0) return;
    // Resolves false when another process created them first, which is the outcome we want.
    await admin.createTopics({ waitForLeaders: false, topics: [...missing.values()].map(toTopicConfig) });
    await waitForLeaders(admin, [...missing.keys()], 30_000);
  } finally {
    await admin.disconnect();
  }
}

/**
 * kafkajs' own `waitForLeaders` gives up on UNKNOWN_TOPIC_OR_PARTITION, which a busy KRaft broker
 * (still deleting an earlier test's topics) answers for a moment after creation; poll instead.
 */
async function waitForLeaders(admin: Admin, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      if (
        topics.length === names.length &&
        topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      ) {
        return;
      }
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`topics ${names.slice(0, 3).join(', ')}… have no leaders after ${timeoutMs} ms${reason}`);
}

function toTopicConfig(topic: TopicSpec): ITopicConfig {
  return {
    topic: topic.name,
    numPartitions: topic.partitions,
    // Left to the broker's default.replication.factor, so the same call works on 1 or 3 brokers.
    configEntries: [
      { name: 'retention.ms', value: String(topic.retentionMs) },
      { name: 'cleanup.policy', value: topic.cleanupPolicy },
    ],
  };
}

/**
 * Resolves once the cluster answers a metadata request AND a consumer group can be joined (the
 * group coordinator reports "loading" for a moment after start), polling until `timeoutMs` passes.
 */
export async function waitForKafka(brokers: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    try {
      await probeOnce(brokers, deadline - Date.now());
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`Kafka at ${brokers.join(',')} not ready after ${timeoutMs} ms: ${reason}`);
}

async function probeOnce(brokers: string[], budgetMs: number): Promise<void> {
  const kafka = client(brokers, 'llmbus-test-readiness');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
  await ensureTopics(brokers, [READINESS_TOPIC]);

  const consumer = kafka.consumer({
    groupId: `llmbus-test-readiness-${randomBytes(4).toString('hex')}`,
    // A crash fails this probe and the loop above tries again; kafkajs must not restart on its own.
    retry: { retries: 2, restartOnFailure: async () => false },
  });
  try {
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, () => resolve());
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [READINESS_TOPIC.name] });
    await consumer.run({ eachMessage: async () => undefined });
    await withTimeout(joined, budgetMs, 'consumer group join');
  } finally {
    await consumer.disconnect();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
