// The Kafka client libraries the bus runs on (LLMBUS_KAFKA_CLIENT), for conformance suites that
// run once per client with describe.each.
import { BusTransport, KafkaTransport, KafkaTransportOptions, PlatformaticKafkaTransport } from '@llmbus/bus';

/** A Kafka transport built from KafkaTransport's options, on one client library. */
export type KafkaTransportFactory = (options: KafkaTransportOptions) => BusTransport;

/** Each client by its LLMBUS_KAFKA_CLIENT name, with how to build its transport. */
export const KAFKA_CLIENTS: readonly (readonly [string, KafkaTransportFactory])[] = [
  ['kafkajs', (options) => new KafkaTransport(options)],
  ['platformatic', (options) => new PlatformaticKafkaTransport(options)],
];
