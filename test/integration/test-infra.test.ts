// The test bootstrap itself: globalSetup must hand every integration test a broker that produces
// and consumes, a PostgreSQL with the llmbus database and a Redis. If these fail, read this file first.
import { Redis } from 'ioredis';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { databaseUrl, kafkaBrokers, redisUrl, uniquePrefix } from '../support/env';
import { ensureTopics, type TopicSpec } from '../support/kafka-topics';

describe('test infrastructure', () => {
  const prefix = uniquePrefix('test-infra');
  const topic: TopicSpec = {
    name: `${prefix}echo`,
    partitions: 2,
    retentionMs: 600_000,
    cleanupPolicy: 'delete',
  };
  const kafka = new Kafka({ clientId: 'test-infra', brokers: kafkaBrokers(), logLevel: logLevel.WARN });
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic.name] }).catch(() => undefined); // may not exist if a test failed early
    await admin.disconnect();
  });

  it('ensureTopics creates a missing topic with the declared partitions and configs, and a second call changes nothing', async () => {
    await ensureTopics(kafkaBrokers(), [topic]);
    await ensureTopics(kafkaBrokers(), [topic, topic]);

    const metadata = await admin.fetchTopicMetadata({ topics: [topic.name] });
    expect(metadata.topics[0].partitions).toHaveLength(2);
    const configs = await admin.describeConfigs({
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic.name,
          configNames: ['retention.ms', 'cleanup.policy'],
        },
      ],
      includeSynonyms: false,
    });
    const entries = Object.fromEntries(
      configs.resources[0].configEntries.map((e) => [e.configName, e.configValue]),
    );
    expect(entries).toEqual({ 'retention.ms': '600000', 'cleanup.policy': 'delete' });
  });

  it('a message produced to the broker is consumed by a new consumer group', async () => {
    await ensureTopics(kafkaBrokers(), [topic]);
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: `${prefix}group` });
    try {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [topic.name], fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
      });
      await producer.send({ topic: topic.name, messages: [{ key: 'k', value: 'hello' }] });

      await expect(received).resolves.toBe('hello');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  }, 30_000);

  it('PostgreSQL answers on DATABASE_URL, connected to the llmbus database', async () => {
    const client = new Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      const result = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(result.rows[0].db).toBe('llmbus');
    } finally {
      await client.end();
    }
  });

  it('Redis answers on REDIS_URL and keeps what is written to it', async () => {
    const client = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
    try {
      await client.set(`${prefix}probe`, 'hello', 'PX', 60_000);
      expect(await client.get(`${prefix}probe`)).toBe('hello');
    } finally {
      await client.del(`${prefix}probe`);
      client.disconnect();
    }
  });
});
