// Static group membership (KAFKA_GROUP_INSTANCE_ID) on the @platformatic/kafka transport.
import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import { PlatformaticKafkaTransport } from '@llmbus/bus';
import pino from 'pino';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { ensureTopics } from '../support/kafka-topics';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Admin } = require('@platformatic/kafka') as typeof Platformatic;

jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });

describe('static group membership on the platformatic Kafka client', () => {
  const brokers = kafkaBrokers();
  let prefix: string;
  let admin: InstanceType<typeof Admin>;

  beforeEach(async () => {
    prefix = uniquePrefix('static');
    await ensureTopics(brokers, [
      { name: `${prefix}in`, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
    ]);
    admin = new Admin({ clientId: `${prefix}admin`, bootstrapBrokers: brokers });
  });

  afterEach(async () => {
    await admin.deleteTopics({ topics: [`${prefix}in`] }).catch(() => undefined);
    await admin.close();
  });

  it('joins with the configured group.instance.id and leaves the group on close', async () => {
    const groupId = `${prefix}group`;
    const transport = new PlatformaticKafkaTransport({
      brokers,
      clientId: `${prefix}client`,
      logger,
      sessionTimeoutMs: 10_000,
      groupInstanceId: 'generator-0',
    });
    const subscription = await transport.consume({
      groupId,
      topics: [`${prefix}in`],
      handle: async () => undefined,
    });
    try {
      const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
      const members = [...(group?.members.values() ?? [])];
      expect(members.map((m) => m.groupInstanceId)).toEqual(['generator-0']);
      expect(transport.health()).toEqual({ consuming: true });
    } finally {
      await subscription.close();
      await transport.close();
    }
    const after = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
    expect(after?.members.size ?? 0).toBe(0);
  });

  it('stops both replicas, naming KAFKA_GROUP_INSTANCE_ID, when two live ones share the instance id', async () => {
    // Before: the client took the id back on every commit, fencing the other in turn; both fetched
    // every partition, handled every message (side effects twice) and reported healthy.
    const groupId = `${prefix}group`;
    const topic = `${prefix}in`;
    const fatal = new Map<string, Error>();
    const handled: string[] = [];
    const replica = (name: string) =>
      new PlatformaticKafkaTransport({
        brokers,
        clientId: `${prefix}${name}`,
        logger,
        sessionTimeoutMs: 10_000,
        groupInstanceId: 'generator-0',
        onFatal: (error) => fatal.set(name, error),
      });
    const replicas = { a: replica('a'), b: replica('b') };
    // One after the other, as replicas start (at the same instant, the second join can fail outright).
    const subscriptions = [];
    for (const [name, transport] of Object.entries(replicas))
      subscriptions.push(
        await transport.consume({
          groupId,
          topics: [topic],
          handle: async (message) => void handled.push(`${name}:${String(message.value)}`),
        }),
      );
    try {
      for (let i = 0; i < 60 && fatal.size < 2; i++) {
        await replicas.a.produce([{ topic, key: `k${i}`, value: `v${i}`, headers: {} }]);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // The first replica fenced stops; the client takes the id back once as it closes, fencing
      // the other, which then stops the same way.
      expect([...fatal.keys()].sort()).toEqual(['a', 'b']);
      for (const error of fatal.values())
        expect(error.message).toMatch(
          new RegExp(
            `^consumer of group ${groupId} fenced: another process joined group ${groupId} with KAFKA_GROUP_INSTANCE_ID=generator-0; each live replica needs its own`,
          ),
        );
      expect(replicas.a.health().consuming).toBe(false);
      expect(replicas.b.health().consuming).toBe(false);
      // Stopped: nothing more is handled.
      const before = handled.length;
      await replicas.a.produce([{ topic, key: 'after', value: 'after', headers: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(handled.length).toBe(before);
    } finally {
      await Promise.all(subscriptions.map((s) => s.close()));
      await Promise.all(Object.values(replicas).map((t) => t.close()));
    }
  });
});
