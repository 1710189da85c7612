import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import { Admin as KafkajsAdmin, Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { CommitCoalescer } from './commit-coalescer';
import { DeliveryDeferredError } from './errors';
import { DEFAULT_CONCURRENCY, type KafkaTransportOptions } from './kafka-transport';
import { ConcurrencyLimit, MessageOutcome, processKeyedBatch } from './keyed-batch';
import { GroupMembers, groupLag } from './group-members';
import type { PartitionLag } from './metrics';
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

type Client = typeof Platformatic;
type PMessage = Platformatic.Message<Buffer, Buffer, Buffer, Buffer>;
type PConsumer = Platformatic.Consumer<Buffer, Buffer, Buffer, Buffer>;
type PProducer = Platformatic.Producer<Buffer, Buffer, Buffer, Buffer>;
type PStream = Platformatic.MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/**
 * @platformatic/kafka is ESM-only: Node 24 loads it with require(esm) (Jest compiles it to
 * CommonJS). Loaded on first use, so processes on kafkajs never load it.
 */
function loadClient(): Client {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@platformatic/kafka') as Client;
}

/** Options of the @platformatic/kafka transport: those of KafkaTransport, plus static membership. */
export interface PlatformaticKafkaTransportOptions extends Omit<KafkaTransportOptions, 'ssl' | 'sasl'> {
  /**
   * Static group membership (KIP-345): the stable identity of this replica (e.g. a StatefulSet
   * pod name). Each consumer group gets `<groupInstanceId>` as its `group.instance.id`, so a
   * replica restarted within the session timeout gets its partitions back without a rebalance.
   * Two live replicas must never share it (the broker fences the older one). Unset: dynamic members.
   */
  readonly groupInstanceId?: string;
}

const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
const DEFAULT_REBALANCE_TIMEOUT_MS = 300_000;
/** The protocol name kafkajs's default (round-robin) assignor joins a group with. */
const KAFKAJS_ROUND_ROBIN = 'RoundRobinAssigner';
/**
 * A static member replaced twice within this many milliseconds (or twice the session timeout) is
 * taken for one whose KAFKA_GROUP_INSTANCE_ID another live process shares (see memberReplaced).
 */
const REPLACED_AGAIN_WINDOW_MS = 60_000;
/** Records fetched and not yet handled, per subscription, above which fetching pauses. */
const MIN_QUEUED_BOUND = 256;

/**
 * Produced records go to the partition Kafka's Java client and kafkajs pick for the key
 * (murmur2 & 0x7fffffff). The library's default partitioner (murmur2 >>> 0) maps about half the
 * keys elsewhere, which would split a request's events over two partitions while replicas on both
 * clients run side by side (a rolling switch), breaking per-key order.
 */
export function keyPartitioner(client: Client): Platformatic.Partitioner<Buffer, Buffer, Buffer, Buffer> {
  return client.compatibilityPartitioner as Platformatic.Partitioner<Buffer, Buffer, Buffer, Buffer>;
}

function toProduced(
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

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

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
  private readonly client: Client;
  private producer?: PProducer;
  private readonly members = new GroupMembers<PlatformaticGroupMember>(this);
  private readonly transactional = new Map<string, PProducer>();
  private lagAdmin?: Promise<KafkajsAdmin>;
  private readonly batcher = new ProduceBatcher({
    send: async (records) => {
      await this.connectedProducer().send({ messages: toProduced(records) });
    },
  });

  constructor(private readonly options: PlatformaticKafkaTransportOptions) {
    this.client = loadClient();
  }

  /** Resolves once every record is acknowledged by all in-sync replicas (calls made meanwhile go out together). */
  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.batcher.produce(records);
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    const member = new PlatformaticGroupMember({
      client: this.client,
      transport: this.options,
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

interface MemberOptions {
  readonly client: Client;
  readonly transport: PlatformaticKafkaTransportOptions;
  readonly consume: ConsumeOptions;
  readonly sequential: boolean;
  readonly eachMessage: (
    message: PMessage,
    consumer: PConsumer,
  ) => Promise<MessageOutcome | { deferMs: number }>;
  readonly log: Logger;
}

/** One partition's records fetched and not yet handled, and the batch being handled. */
interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  pending: PMessage[];
  running?: Promise<void>;
  /** Not before this time (ms since the epoch): the partition's next batch waits for a deferral or a retry. */
  notBefore: number;
  timer?: NodeJS.Timeout;
}

type State =
  | { readonly kind: 'joining' }
  | { readonly kind: 'consuming' }
  | { readonly kind: 'stopped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * One subscription's consumer: records arrive as a stream in offset order per partition; each
 * partition's records are handled in batches, one batch at a time (processKeyedBatch: per-key
 * lanes, the shared concurrency limit, commits of the handled prefix). A message not handled (a
 * failure, or not due yet) is handed again from memory with the rest of its batch after the delay;
 * records of a generation the member has left are dropped (the stream reads the partition again
 * from its committed offset after each join). A stream that fails is replaced by a new consumer,
 * up to maxRejoinAttempts times in a row; then `onFatal`.
 */
class PlatformaticGroupMember {
  private consumer?: PConsumer;
  private stream?: PStream;
  private state: State = { kind: 'joining' };
  private closed = false;
  private rejoinAttempts = 0;
  private readonly queues = new Map<string, PartitionQueue>();
  private queued = 0;
  private readonly limit: ConcurrencyLimit;
  private readonly bound: number;

  constructor(private readonly options: MemberOptions) {
    const concurrency = options.transport.concurrency ?? DEFAULT_CONCURRENCY;
    this.limit = new ConcurrencyLimit(concurrency);
    this.bound = Math.max(MIN_QUEUED_BOUND, concurrency * 32);
  }

  private get groupId(): string {
    return this.options.consume.groupId;
  }

  health(): ConsumerHealth {
    if (this.closed) return { consuming: false, reason: `group ${this.groupId}: closed` };
    switch (this.state.kind) {
      case 'consuming':
        return { consuming: true };
      case 'joining':
        return { consuming: false, reason: `group ${this.groupId}: joining` };
      case 'stopped':
      case 'failed':
        return { consuming: false, reason: `group ${this.groupId}: ${this.state.reason}` };
    }
  }

  /** Joins the group and starts consuming; resolves once joined. */
  async start(): Promise<void> {
    const { client, transport, consume } = this.options;
    const sessionTimeout = transport.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const consumer = new client.Consumer({
      clientId: transport.clientId,
      groupId: consume.groupId,
      bootstrapBrokers: [...transport.brokers],
      ...(transport.groupInstanceId ? { groupInstanceId: transport.groupInstanceId } : {}),
      sessionTimeout,
      rebalanceTimeout: Math.max(
        sessionTimeout,
        transport.rebalanceTimeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS,
      ),
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
      // kafkajs's name for the round-robin assignor (the same assignment): members on either client
      // can then share a group, e.g. while replicas are switched from one client to the other.
      protocols: [{ name: KAFKAJS_ROUND_ROBIN, version: 1 }],
      partitionAssigner: client.roundRobinAssigner,
      autocommit: false,
      maxWaitTime: consume.fetch?.maxWaitMs ?? 200,
      minBytes: consume.fetch?.minBytes ?? 1,
      isolationLevel: client.FetchIsolationLevels.READ_COMMITTED,
    });
    this.consumer = consumer;
    this.state = { kind: 'joining' };
    this.watchFencing(consumer);
    let memberId: string | undefined;
    consumer.on('consumer:group:join', (joined: { memberId?: string }) => {
      if (this.consumer !== consumer) return;
      // A static member gets a new member id only when the broker dropped the one it had: once
      // after a session timeout; again and again when another process shares its instance id.
      const replaced = memberId !== undefined && joined.memberId !== memberId;
      memberId = joined.memberId;
      if (replaced && transport.groupInstanceId && this.memberReplaced(sessionTimeout)) {
        this.fenced(consumer, transport.groupInstanceId);
        return;
      }
      // The stream reads every partition again from its committed offset: what is queued is stale.
      for (const queue of this.queues.values()) this.drop(queue);
      this.state = { kind: 'consuming' };
    });
    consumer.on('consumer:heartbeat:error', ({ error }) => {
      if (this.consumer === consumer)
        this.options.log.debug({ err: error }, 'heartbeat failed; the client rejoins');
    });
    const stream = await consumer.consume({
      topics: [...consume.topics],
      mode: client.MessagesStreamModes.COMMITTED,
      fallbackMode:
        consume.fromBeginning === false
          ? client.MessagesStreamFallbackModes.LATEST
          : client.MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    });
    this.stream = stream;
    this.state = { kind: 'consuming' };
    stream.on('data', (message: PMessage) => this.receive(consumer, message));
    stream.on('error', (error: Error) => {
      if (this.stream === stream && !this.closed) void this.rejoin(error);
    });
    if (this.closed) await this.stop(consumer, stream);
  }

  /** Unsubscribes the fencing watch of the current consumer (see watchFencing). */
  private unwatchFencing?: () => void;

  /**
   * Stops for good when the broker fences this member's `group.instance.id` (FENCED_INSTANCE_ID):
   * another live process joined the group with the same KAFKA_GROUP_INSTANCE_ID. The client would
   * rejoin at once and fence the other in turn, so both kept fetching every partition, each handled
   * every message (side effects twice) and both reported healthy. Told by the client's diagnostics
   * channels (group, heartbeat, commit) when the broker answers FENCED_INSTANCE_ID, and by the
   * member id replaced again and again (see memberReplaced); the subscription then stops and
   * reports the failure through `onFatal`.
   */
  private watchFencing(consumer: PConsumer): void {
    this.unwatchFencing?.();
    const { client, transport } = this.options;
    if (!transport.groupInstanceId) return;
    const channels = [
      client.consumerGroupChannel,
      client.consumerHeartbeatChannel,
      client.consumerCommitsChannel,
    ];
    const onError = (message: unknown) => {
      const { client: from, error } = message as { client?: unknown; error?: unknown };
      if (from !== consumer || this.consumer !== consumer || this.closed) return;
      if (!client.findErrorBy(error as Error, 'apiId', 'FENCED_INSTANCE_ID')) return;
      this.fenced(consumer, transport.groupInstanceId!);
    };
    for (const channel of channels) channel.error.subscribe(onError);
    this.unwatchFencing = () => {
      for (const channel of channels) channel.error.unsubscribe(onError);
      this.unwatchFencing = undefined;
    };
  }

  /** When this subscription's static member id was last replaced (see start), in epoch ms. */
  private lastReplacedAt?: number;

  /**
   * Tells that the broker gave this static member a new member id; true when it happened before
   * within REPLACED_AGAIN_WINDOW_MS (or twice the session timeout): another process shares its
   * instance id. Each process then takes the id back on its next commit or heartbeat, so fencing
   * repeats every few hundred milliseconds while messages flow.
   */
  private memberReplaced(sessionTimeoutMs: number): boolean {
    const now = Date.now();
    const again =
      this.lastReplacedAt !== undefined &&
      now - this.lastReplacedAt < Math.max(REPLACED_AGAIN_WINDOW_MS, 2 * sessionTimeoutMs);
    this.lastReplacedAt = now;
    if (!again)
      this.options.log.warn(
        `group ${this.groupId}: the broker dropped this static member and gave it a new member id ` +
          `(a session timeout, or another process with the same KAFKA_GROUP_INSTANCE_ID)`,
      );
    return again;
  }

  private fenced(consumer: PConsumer, instanceId: string): void {
    this.unwatchFencing?.();
    this.closed = true;
    const reason =
      `fenced: another process joined group ${this.groupId} with KAFKA_GROUP_INSTANCE_ID=${instanceId}; ` +
      `each live replica needs its own (e.g. its StatefulSet pod name). Stopped consuming so that ` +
      `messages are not handled by both`;
    this.state = { kind: 'failed', reason };
    this.options.log.error(`consumer of group ${this.groupId} ${reason}`);
    const stream = this.stream;
    this.consumer = undefined;
    this.stream = undefined;
    // No batch starts from now on. The client may still take the id back once while it closes,
    // fencing the other process in turn: that one then stops the same way, saying so.
    const stopping = stream ? this.stop(consumer, stream) : consumer.close(true);
    void stopping.catch(() => undefined);
    (this.options.transport.onFatal ?? (() => undefined))(
      new Error(`consumer of group ${this.groupId} ${reason}`),
    );
  }

  /** Leaves the group; the batches in flight finish and commit first. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatchFencing?.();
    const { consumer, stream } = this;
    this.consumer = undefined;
    this.stream = undefined;
    if (consumer && stream) await this.stop(consumer, stream);
  }

  private async stop(consumer: PConsumer, stream: PStream): Promise<void> {
    stream.pause();
    for (const queue of this.queues.values()) {
      clearTimeout(queue.timer);
      queue.pending = [];
    }
    this.queued = 0;
    await Promise.all([...this.queues.values()].map((q) => q.running));
    this.queues.clear();
    await stream.close().catch(() => undefined);
    await consumer.close(true);
  }

  private receive(consumer: PConsumer, message: PMessage): void {
    if (this.consumer !== consumer || this.closed) return;
    // Fetched before the member's last join: the stream reads it again from the committed offset.
    const generation = (message.metadata['consumer'] as { generationId?: number } | undefined)?.generationId;
    if (generation !== undefined && generation !== consumer.generationId) return;
    const key = `${message.partition}:${message.topic}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { topic: message.topic, partition: message.partition, pending: [], notBefore: 0 };
      this.queues.set(key, queue);
    }
    queue.pending.push(message);
    this.queued += 1;
    if (this.queued >= this.bound) this.stream?.pause();
    this.dispatch(consumer, queue);
  }

  private drop(queue: PartitionQueue): void {
    this.queued -= queue.pending.length;
    queue.pending = [];
    clearTimeout(queue.timer);
    queue.timer = undefined;
    queue.notBefore = 0;
    this.resumeIfDrained();
  }

  private resumeIfDrained(): void {
    if (this.stream?.isPaused() && this.queued < this.bound / 2 && !this.closed) this.stream.resume();
  }

  /** Starts the partition's next batch unless one runs or it waits for a delay. */
  private dispatch(consumer: PConsumer, queue: PartitionQueue): void {
    if (queue.running || queue.pending.length === 0 || queue.timer || this.closed) return;
    const wait = queue.notBefore - Date.now();
    if (wait > 0) {
      queue.timer = setTimeout(() => {
        queue.timer = undefined;
        this.dispatch(consumer, queue);
      }, wait);
      return;
    }
    const batch = queue.pending;
    queue.pending = [];
    this.queued -= batch.length;
    this.resumeIfDrained();
    queue.running = this.runBatch(consumer, queue, batch).finally(() => {
      queue.running = undefined;
      if (this.consumer === consumer) this.dispatch(consumer, queue);
    });
  }

  private async runBatch(consumer: PConsumer, queue: PartitionQueue, batch: PMessage[]): Promise<void> {
    const { topic, partition } = queue;
    const generation = consumer.generationId;
    const commits = this.commits(consumer);
    const messages = batch.map((m) => ({ message: m, offset: m.offset.toString(), key: m.key ?? null }));
    let deferMs: number | undefined;
    let retryFrom: string | undefined;
    try {
      await processKeyedBatch(messages, {
        limit: this.limit,
        sequential: this.options.sequential,
        active: () => !this.closed && this.consumer === consumer && consumer.generationId === generation,
        handle: async ({ message }) => {
          const outcome = await this.options.eachMessage(message, consumer);
          if (typeof outcome === 'object') {
            deferMs = Math.max(deferMs ?? 0, outcome.deferMs);
            return 'stop';
          }
          return outcome;
        },
        completed: async (offset, commit) => {
          if (commit) await commits.commit(topic, partition, (BigInt(offset) + 1n).toString());
          this.rejoinAttempts = 0;
        },
        incomplete: (offset) => (retryFrom = offset),
      });
    } catch (error) {
      this.options.log.warn({ err: error, topic, partition }, 'message not handled; it is delivered again');
      deferMs ??= this.options.transport.rejoinDelayMs ?? 1000;
    }
    // Not handled (a failure or a deferral): hand the rest of the batch again, before what came since,
    // unless the member left the generation meanwhile (the stream then reads it again itself).
    if (
      retryFrom !== undefined &&
      this.consumer === consumer &&
      consumer.generationId === generation &&
      !this.closed
    ) {
      const from = BigInt(retryFrom);
      const again = batch.filter((m) => m.offset >= from);
      queue.pending = [...again, ...queue.pending];
      this.queued += again.length;
      queue.notBefore = Date.now() + (deferMs ?? 0);
      if (this.queued >= this.bound) this.stream?.pause();
    }
  }

  private commitCoalescer?: { consumer: PConsumer; coalescer: CommitCoalescer };

  private commits(consumer: PConsumer): CommitCoalescer {
    if (this.commitCoalescer?.consumer !== consumer) {
      this.commitCoalescer = {
        consumer,
        coalescer: new CommitCoalescer((offsets) =>
          consumer.commit({
            offsets: offsets.map((o) => ({
              topic: o.topic,
              partition: o.partition,
              offset: BigInt(o.offset),
              leaderEpoch: -1,
            })),
          }),
        ),
      };
    }
    return this.commitCoalescer.coalescer;
  }

  /** Replaces a consumer whose stream failed; after maxRejoinAttempts in a row, reports the failure. */
  private async rejoin(error: Error): Promise<void> {
    const max = this.options.transport.maxRejoinAttempts ?? 3;
    let cause: unknown = error;
    while (!this.closed) {
      this.rejoinAttempts += 1;
      if (this.rejoinAttempts > max) {
        const reason = `stopped after ${max} attempt(s) to rejoin: ${errorText(cause)}`;
        this.state = { kind: 'failed', reason };
        this.options.log.error({ err: cause }, `consumer of group ${this.groupId} ${reason}`);
        (this.options.transport.onFatal ?? (() => undefined))(
          new Error(`consumer of group ${this.groupId} ${reason}`, { cause }),
        );
        return;
      }
      const attempt = `attempt ${this.rejoinAttempts} of ${max}`;
      this.state = { kind: 'stopped', reason: `crashed (${errorText(cause)}); rejoining, ${attempt}` };
      this.options.log.error({ err: cause }, `consumer stream failed; rejoining, ${attempt}`);
      const { consumer, stream } = this;
      this.consumer = undefined;
      this.stream = undefined;
      if (consumer && stream) await this.stop(consumer, stream).catch(() => undefined);
      await new Promise((resolve) =>
        setTimeout(resolve, (this.options.transport.rejoinDelayMs ?? 1000) * this.rejoinAttempts),
      );
      if (this.closed) return;
      try {
        await this.start();
        this.options.log.info(`consumer rejoined group ${this.groupId}`);
        return;
      } catch (startError) {
        cause = startError;
      }
    }
  }
}
