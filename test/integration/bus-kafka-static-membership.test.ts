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
});
