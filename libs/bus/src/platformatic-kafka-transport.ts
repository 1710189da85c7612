import { Admin as KafkajsAdmin, Kafka, logLevel } from 'kafkajs';
import { DeliveryDeferredError } from './errors';
import type { MessageOutcome } from './keyed-batch';
import { GroupMembers, groupLag } from './group-members';
import type { PartitionLag } from './metrics';
import {
  keyPartitioner,
  loadPlatformaticClient,
  type PConsumer,
  type PlatformaticClient,
  type PlatformaticKafkaTransportOptions,
  type PMessage,
  type PProducer,
  toProduced,
} from './platformatic-client';
import { platformaticSecurity, type PlatformaticSecurity } from './platformatic-connection-security';
import { PlatformaticGroupMember } from './platformatic-group-member';
export type { PlatformaticKafkaTransportOptions } from './platformatic-client';
import { ProduceBatcher } from './produce-batcher';
import type {
  BusTransport,
  ConsumeOptions,
  ConsumerHealth,
  OutgoingRecord,
  RawMessage,
  RecordSink,
  Subscription,
} from './transport';

/**
 * The bus on Apache Kafka through @platformatic/kafka (LLMBUS_KAFKA_CLIENT=platformatic), with the
 * delivery rules of KafkaTransport: idempotent producer with acks from all in-sync replicas;
 * messages of one key (one partition in exactly-once mode) handled in offset order, up to
 * `concurrency` at once across partitions; an offset committed only once its message and every
 * earlier one of its partition are handled; exactly-once through one Kafka transaction per message
 * with outputs (transactional id per group and input partition). The client heartbeats on its own
 * timer, so long handlers keep their membership without calling `heartbeat`.
 */
export class PlatformaticKafkaTransport implements BusTransport {
  private readonly client: PlatformaticClient;
  private readonly security: PlatformaticSecurity;
  private producer?: PProducer;
  private readonly members = new GroupMembers<PlatformaticGroupMember>(this);
  private readonly transactional = new Map<string, PProducer>();
  private lagAdmin?: Promise<KafkajsAdmin>;
  private readonly batcher = new ProduceBatcher({
    send: async (records) => {
      await this.connectedProducer().send({ messages: toProduced(records) });
    },
  });

  /** @throws UnsupportedKafkaSecurityError for `ssl`/`sasl` settings the client cannot honour. */
  constructor(private readonly options: PlatformaticKafkaTransportOptions) {
    this.security = platformaticSecurity(options.ssl, options.sasl);
    this.client = loadPlatformaticClient();
  }

  /** Resolves once every record is acknowledged by all in-sync replicas (calls made meanwhile go out together). */
  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.batcher.produce(records);
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    const member = new PlatformaticGroupMember({
      client: this.client,
      transport: this.options,
      security: this.security,
      consume: options,
      sequential: this.exactlyOnce,
      eachMessage: (message, consumer) => this.handleMessage(options, message, consumer),
      log: this.options.logger.child({ component: 'kafka-consumer', groupId: options.groupId }),
    });
    return this.members.subscribe(member, options);
  }

  /** Consuming while every subscription's consumer is in its group; otherwise the first that is not. */
  health(): ConsumerHealth {
    return this.members.health();
  }

  /** Committed offset versus partition end for each partition a group reads (admin requests, off the hot path). */
  async lag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    return groupLag(await this.connectedAdmin(), groupId, topics);
  }

  async close(): Promise<void> {
    await this.members.closeAll();
    await Promise.all([...this.transactional.values()].map((p) => p.close()));
    this.transactional.clear();
    if (this.lagAdmin) await (await this.lagAdmin).disconnect();
    this.lagAdmin = undefined;
    await this.producer?.close();
    this.producer = undefined;
  }

  private get exactlyOnce(): boolean {
    return this.options.delivery === 'exactly-once';
  }

  private async handleMessage(
    options: ConsumeOptions,
    message: PMessage,
    consumer: PConsumer,
  ): Promise<MessageOutcome | { deferMs: number }> {
    const headers: Record<string, string> = {};
    for (const [name, value] of message.headers) headers[name.toString()] = value.toString();
    const raw: RawMessage = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset.toString(),
      key: message.key?.toString('utf8') ?? null,
      headers,
      value: message.value ?? null,
    };
    let transaction: Awaited<ReturnType<PProducer['beginTransaction']>> | undefined;
    let transactionalId: string | undefined;
    const output: RecordSink = this.exactlyOnce
      ? {
          produce: async (records) => {
            if (records.length === 0) return;
            transactionalId = `${options.groupId}.${message.topic}.${message.partition}`;
            transaction ??= await this.transactionalProducer(transactionalId).beginTransaction();
            await transaction.send({ messages: toProduced(records) });
          },
        }
      : this;
    try {
      await options.handle(raw, () => Promise.resolve(), output);
      if (transaction) {
        await transaction.addConsumer(consumer);
        await transaction.addOffset(message);
        await transaction.commit();
        return 'committed';
      }
    } catch (error) {
      if (transactionalId !== undefined) {
        const aborted =
          transaction !== undefined &&
          (transaction.completed ||
            (await transaction.abort().then(
              () => true,
              () => false,
            )));
        // A producer whose transaction could not begin or end (fenced by a newer one with its id,
        // or left with a transaction it still counts as active) is replaced on the next message.
        if (!aborted) await this.dropTransactional(transactionalId);
      }
      if (error instanceof DeliveryDeferredError) return { deferMs: error.delayMs };
      throw error;
    }
    return 'handled';
  }

  /** Deletes an empty consumer group (best-effort: a group the broker still sees members of stays). */
  async deleteGroup(groupId: string): Promise<void> {
    try {
      await (await this.connectedAdmin()).deleteGroups([groupId]);
    } catch (error) {
      this.options.logger.warn({ err: error, groupId }, 'consumer group not deleted');
    }
  }

  private connectedAdmin(): Promise<KafkajsAdmin> {
    this.lagAdmin ??= (async () => {
      const admin = new Kafka({
        clientId: this.options.clientId,
        brokers: [...this.options.brokers],
        ssl: this.options.ssl,
        sasl: this.options.sasl,
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      return admin;
    })();
    return this.lagAdmin;
  }

  private connectedProducer(): PProducer {
    this.producer ??= new this.client.Producer({
      clientId: this.options.clientId,
      bootstrapBrokers: [...this.options.brokers],
      ...this.security,
      idempotent: true,
      acks: this.client.ProduceAcks.ALL,
      autocreateTopics: false,
      partitioner: keyPartitioner(this.client),
    });
    return this.producer;
  }

  /**
   * The transactional producer of one input partition of a group (`<group>.<topic>.<partition>`,
   * as KafkaTransport names it): its id is stable for that partition, so a new owner of the partition fences a transaction the old owner left open (KIP-98).
   */
  private transactionalProducer(transactionalId: string): PProducer {
    let producer = this.transactional.get(transactionalId);
    if (!producer) {
      producer = new this.client.Producer({
        clientId: this.options.clientId,
        bootstrapBrokers: [...this.options.brokers],
        ...this.security,
        transactionalId,
        // InitProducerId without an expected producer (-1, as the Java client sends): the library
        // otherwise sends (0, 0), which the coordinator answers with PRODUCER_FENCED once another
        // producer (a previous owner of the partition) has used this transactional id, so a takeover
        // could never fence it.
        producerId: -1n,
        producerEpoch: -1,
        idempotent: true,
        acks: this.client.ProduceAcks.ALL,
        autocreateTopics: false,
        partitioner: keyPartitioner(this.client),
      });
      this.transactional.set(transactionalId, producer);
    }
    return producer;
  }

  private async dropTransactional(transactionalId: string): Promise<void> {
    const producer = this.transactional.get(transactionalId);
    this.transactional.delete(transactionalId);
    await producer?.close(true).catch(() => undefined);
  }
}
