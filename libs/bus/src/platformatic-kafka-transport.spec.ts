import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import { Partitioners } from 'kafkajs';
import { keyPartitioner } from './platformatic-client';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const client = require('@platformatic/kafka') as typeof Platformatic;

describe('keyPartitioner', () => {
  it('puts every key on the partition kafkajs puts it on, where the library default does not', () => {
    const partitions = 12;
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: 0,
      replicas: [1],
      isr: [1],
    }));
    const ours = keyPartitioner(client);
    let defaultDiffers = 0;
    for (let i = 0; i < 2000; i++) {
      const key = `req-${i}-${(i * 7919).toString(36)}`;
      const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
      const message = { topic: 't', key: Buffer.from(key) };
      // The producer takes the result modulo the topic's partition count.
      expect(ours(message, Buffer.from(key), { metadata: undefined }) % partitions).toBe(expected);
      if (client.defaultPartitioner(message, Buffer.from(key)) % partitions !== expected) defaultDiffers += 1;
    }
    expect(defaultDiffers).toBeGreaterThan(100);
  });
});
