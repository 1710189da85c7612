import { Admin, Kafka, KafkaConfig, logLevel, Producer, Transaction } from 'kafkajs';
import type { Logger } from 'pino';
import { DeliveryDeferredError } from './errors';
import { KafkaGroupMember, MemberMessagePayload } from './kafka-group-member';
import type { MessageOutcome } from './keyed-batch';
import { GroupMembers, groupLag } from './group-members';
import type { PartitionLag } from './metrics';
import { ProduceBatcher } from './produce-batcher';
import type {
  BusTransport,
  ConsumeOptions,
  ConsumerHealth,
  DeliveryMode,
  OutgoingRecord,
  RawMessage,
  RecordSink,
  Subscription,
} from './transport';

export interface KafkaTransportOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /**
   * Consumer session timeout in milliseconds (default 6 s, the broker's minimum). Handlers heartbeat during long model
   * calls, so this only bounds how long a dead member holds its partitions.
   */
  readonly sessionTimeoutMs?: number;
  /**
   * How long, in milliseconds, the coordinator waits for every live member to rejoin during a
   * rebalance (default: the larger of the session timeout and 5 minutes). A member busy in a
   * handler rejoins only once the handler returns, so this must cover the longest handler; a
   * member that misses it is evicted and its in-flight message is handled again by another.
   */
  readonly rebalanceTimeoutMs?: number;
  /**
   * Messages one consumer works on at once, across its partitions and keys (default 8). Order holds
   * per key (per partition with `exactly-once`); offsets are committed as a contiguous prefix.
   */
  readonly concurrency?: number;
  /**
   * Consumers recreated in a row, with no message handled in between, after crashes kafkajs does
   * not restart from (default 3); then `onFatal` is called.
   */
  readonly maxRejoinAttempts?: number;
  /** Pause before the n-th recreation: n times this, in milliseconds (default 1000). */
  readonly rejoinDelayMs?: number;
  /**
   * Called once per subscription that stopped for good: the process should exit non-zero so that
   * its supervisor restarts it. Default: log only (health stays not consuming).
   */
  readonly onFatal?: (error: Error) => void;
  /**
   * `exactly-once`: each consumed message's outputs and its offset are written in one Kafka
   * transaction (one transactional id per group and input partition, so a new owner of the
   * partition fences the old one); consumers read committed records only (as they always do).
   */
  readonly delivery?: DeliveryMode;
  readonly ssl?: KafkaConfig['ssl'];
  readonly sasl?: KafkaConfig['sasl'];
  readonly logger: Logger;
}

const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
/** Messages in flight per consumer by default: several model calls at once per replica. */
export const DEFAULT_CONCURRENCY = 8;
/** Kafka's Java consumer default for the same bound (max.poll.interval.ms). */
const DEFAULT_REBALANCE_TIMEOUT_MS = 300_000;

function toLevel(level: logLevel): 'error' | 'warn' | 'info' | 'debug' {
  switch (level) {
    case logLevel.ERROR:
    case logLevel.NOTHING:
      return 'error';
    case logLevel.WARN:
      return 'warn';
    case logLevel.INFO:
      return 'info';
    case logLevel.DEBUG:
      return 'debug';
  }
}

function headerString(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

const CONCURRENT_TRANSACTIONS = /another concurrent operation on the same transaction/;

/**
 * The pino level of a kafkajs log entry. Back-to-back transactions meet CONCURRENT_TRANSACTIONS
 * while the previous commit's markers are written; kafkajs retries it (as the Java client does,
 * silently), so it is logged at debug whether kafkajs names it in the entry's `error` or in its
 * message (the producer's "Failed to send messages: …", which logged at error on every retry).
 */
export function kafkajsLogLevel(
  level: logLevel,
  entry: { message: string; error?: unknown },
): 'error' | 'warn' | 'info' | 'debug' {
  const routine =
    CONCURRENT_TRANSACTIONS.test(entry.message) ||
    (typeof entry.error === 'string' && CONCURRENT_TRANSACTIONS.test(entry.error));
  return routine ? 'debug' : toLevel(level);
}

/** Groups records by topic for one `sendBatch`. */
function topicMessages(records: readonly OutgoingRecord[]) {
  const byTopic = new Map<
    string,
    { key: string; value: string | Buffer; headers: Record<string, string> }[]
  >();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: { ...r.headers } });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The bus on Apache Kafka through kafkajs: idempotent producer, acks from all in-sync replicas, manual commits. */
export class KafkaTransport implements BusTransport {
  private readonly kafka: Kafka;
  private producer?: Promise<Producer>;
  private readonly members = new GroupMembers<KafkaGroupMember>(this);
  private lagAdmin?: Promise<Admin>;
  private readonly transactional = new Map<string, Promise<Producer>>();
  /** Produce calls made while a send is in flight go out together in the next send. */
  private readonly batcher = new ProduceBatcher({
    send: async (records) => {
      const producer = await this.connectedProducer();
      await producer.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
    },
  });

  constructor(private readonly options: KafkaTransportOptions) {
    const log = options.logger.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      ssl: options.ssl,
      sasl: options.sasl,
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          log[kafkajsLogLevel(level, entry)](rest, message);
        },
    });
  }

  /**
   * Resolves once every record is acknowledged by all in-sync replicas. Calls made while an earlier
   * send is in flight are merged into one `sendBatch` (see ProduceBatcher); each call still
   * resolves only once its own records are acknowledged.
   */
  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.batcher.produce(records);
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    const sessionTimeout = this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const member = new KafkaGroupMember({
      kafka: this.kafka,
      consumer: {
        groupId: options.groupId,
        sessionTimeout,
        rebalanceTimeout: Math.max(
          sessionTimeout,
          this.options.rebalanceTimeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS,
        ),
        heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
        maxWaitTimeInMs: options.fetch?.maxWaitMs ?? 200,
        minBytes: options.fetch?.minBytes ?? 1,
        allowAutoTopicCreation: false,
      },
      topics: options.topics,
      fromBeginning: options.fromBeginning,
      concurrency: this.options.concurrency ?? DEFAULT_CONCURRENCY,
      sequential: this.exactlyOnce,
      eachMessage: (payload) => this.handleMessage(options, payload),
      maxRejoinAttempts: this.options.maxRejoinAttempts ?? 3,
      rejoinDelayMs: this.options.rejoinDelayMs ?? 1000,
      onFatal: this.options.onFatal ?? (() => undefined),
      log: this.options.logger.child({ component: 'kafka-consumer', groupId: options.groupId }),
    });
    return this.members.subscribe(member, options);
  }

  /** Deletes an empty consumer group (best-effort: a group the broker still sees members of stays). */
  async deleteGroup(groupId: string): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch (error) {
      this.options.logger.warn({ err: error, groupId }, 'consumer group not deleted');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Consuming while every subscription's consumer is in its group; otherwise the first that is not. */
  health(): ConsumerHealth {
    return this.members.health();
  }

  /**
   * One message: hand it to the stage; exactly-once, commit its offset in the transaction with its
   * outputs. Otherwise the group member commits it once every earlier message is handled too.
   */
  private async handleMessage(
    options: ConsumeOptions,
    { topic, partition, message, heartbeat, defer }: MemberMessagePayload,
  ): Promise<MessageOutcome> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      const text = headerString(value);
      if (text !== undefined) headers[name] = text;
    }
    const raw: RawMessage = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString('utf8') ?? null,
      headers,
      value: message.value,
    };
    const next = (BigInt(message.offset) + 1n).toString();
    // Exactly-once: outputs go into a transaction opened on the first output, which then also
    // carries the offset; a message with no output commits its offset as usual.
    let transaction: Transaction | undefined;
    const output: RecordSink = this.exactlyOnce
      ? {
          produce: async (records) => {
            if (records.length === 0) return;
            transaction ??= await (
              await this.transactionalProducer(options.groupId, topic, partition)
            ).transaction();
            await transaction.sendBatch({ acks: -1, topicMessages: topicMessages(records) });
          },
        }
      : this;
    try {
      await options.handle(raw, heartbeat, output);
      if (transaction) {
        await transaction.sendOffsets({
          consumerGroupId: options.groupId,
          topics: [{ topic, partitions: [{ partition, offset: next }] }],
        });
        await transaction.commit();
        return 'committed';
      }
    } catch (error) {
      if (transaction) await transaction.abort().catch(() => undefined);
      if (!(error instanceof DeliveryDeferredError)) {
        // Throwing leaves the offset uncommitted: kafkajs seeks back and delivers it again.
        throw error;
      }
      // Not due yet: stop fetching this partition until it is, then read it again from here.
      defer(error.delayMs);
      return 'stop';
    }
    return 'handled';
  }

  /** Committed offset versus partition end for each partition a group reads. */
  async lag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    return groupLag(await this.connectedAdmin(), groupId, topics);
  }

  async close(): Promise<void> {
    await Promise.all([...this.transactional.values()].map(async (p) => (await p).disconnect()));
    this.transactional.clear();
    if (this.lagAdmin) await (await this.lagAdmin).disconnect();
    this.lagAdmin = undefined;
    await this.members.closeAll();
    if (this.producer) await (await this.producer).disconnect();
    this.producer = undefined;
  }

  /** The kafkajs admin client, for topic management by infrastructure code and tests. */
  admin() {
    return this.kafka.admin();
  }

  private connectedAdmin(): Promise<Admin> {
    this.lagAdmin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this.lagAdmin;
  }

  private get exactlyOnce(): boolean {
    return this.options.delivery === 'exactly-once';
  }

  /**
   * The transactional producer of one input partition of a group. Its id is stable for that
   * partition, so when the partition moves to another member, the new owner's producer fences any
   * transaction the old owner still has open (Kafka's transactional-id fencing, KIP-98).
   */
  private transactionalProducer(groupId: string, topic: string, partition: number): Promise<Producer> {
    const transactionalId = `${groupId}.${topic}.${partition}`;
    let producer = this.transactional.get(transactionalId);
    if (!producer) {
      producer = (async () => {
        const p = this.kafka.producer({
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
        });
        await p.connect();
        return p;
      })();
      // A failed connect must not be cached: the next message tries again.
      producer.catch(() => this.transactional.delete(transactionalId));
      this.transactional.set(transactionalId, producer);
    }
    return producer;
  }

  private connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 5,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      return producer;
    })();
    return this.producer;
  }
}
