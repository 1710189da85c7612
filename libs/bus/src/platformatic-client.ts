import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import type { KafkaTransportOptions } from './kafka-transport';
import type { OutgoingRecord } from './transport';

/**
 * Options of the @platformatic/kafka transport: those of KafkaTransport (its `ssl` and `sasl` in
 * kafkajs's shape, mapped by platformaticSecurity), plus static membership.
 */
export interface PlatformaticKafkaTransportOptions extends KafkaTransportOptions {
  /**
   * Static group membership (KIP-345): the stable identity of this replica (e.g. a StatefulSet
   * pod name). Each consumer group gets `<groupInstanceId>` as its `group.instance.id`, so a
   * replica restarted within the session timeout gets its partitions back without a rebalance.
   * Two live replicas must never share it (the broker fences the older one). Unset: dynamic members.
   */
  readonly groupInstanceId?: string;
}

/** The @platformatic/kafka module. */
export type PlatformaticClient = typeof Platformatic;
/** A consumed record (keys, values, header names and values as bytes). */
export type PMessage = Platformatic.Message<Buffer, Buffer, Buffer, Buffer>;
/** A consumer of byte records. */
export type PConsumer = Platformatic.Consumer<Buffer, Buffer, Buffer, Buffer>;
/** A producer of byte records. */
export type PProducer = Platformatic.Producer<Buffer, Buffer, Buffer, Buffer>;
/** The record stream of one consumer. */
export type PStream = Platformatic.MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/**
 * @platformatic/kafka is ESM-only: Node 24 loads it with require(esm) (Jest compiles it to
 * CommonJS). Loaded on first use, so processes on kafkajs never load it. The package exports one
 * entry point (no subpath for the clients alone); loading it costs about 0.45 s of CPU, nearly all
 * of it in the clients themselves (their option schemas compiled by ajv at import, ~300 ES
 * modules), not in the schema-registry code, which adds ~0.02 s (README, "### Kafka client").
 */
export function loadPlatformaticClient(): PlatformaticClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@platformatic/kafka') as PlatformaticClient;
}

/**
 * Produced records go to the partition Kafka's Java client and kafkajs pick for the key
 * (murmur2 & 0x7fffffff). The library's default partitioner (murmur2 >>> 0) maps about half the
 * keys elsewhere, which would split a request's events over two partitions while replicas on both
 * clients run side by side (a rolling switch), breaking per-key order.
 */
export function keyPartitioner(
  client: PlatformaticClient,
): Platformatic.Partitioner<Buffer, Buffer, Buffer, Buffer> {
  return client.compatibilityPartitioner as Platformatic.Partitioner<Buffer, Buffer, Buffer, Buffer>;
}

/** The bus's outgoing records as the library's messages (keys, values and headers as bytes). */
export function toProduced(
  records: readonly OutgoingRecord[],
): Platformatic.MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] {
  return records.map((r) => {
    const headers = new Map<Buffer, Buffer>();
    for (const [name, value] of Object.entries(r.headers)) headers.set(Buffer.from(name), Buffer.from(value));
    return {
      topic: r.topic,
      key: Buffer.from(r.key),
      value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
      headers,
    };
  });
}

/** `Name: message` of an error, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
