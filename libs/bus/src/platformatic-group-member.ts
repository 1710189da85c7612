import type { Logger } from 'pino';
import { CommitCoalescer } from './commit-coalescer';
import { DEFAULT_CONCURRENCY } from './kafka-transport';
import { ConcurrencyLimit, MessageOutcome, processKeyedBatch } from './keyed-batch';
import {
  errorText,
  type PConsumer,
  type PlatformaticClient,
  type PlatformaticKafkaTransportOptions,
  type PMessage,
  type PStream,
} from './platformatic-client';
import type { PlatformaticSecurity } from './platformatic-connection-security';
import { InstanceFencing } from './platformatic-instance-fencing';
import { RebalanceHold } from './platformatic-rebalance-hold';
import type { ConsumerHealth, ConsumeOptions } from './transport';

const DEFAULT_SESSION_TIMEOUT_MS = 6_000;
const DEFAULT_REBALANCE_TIMEOUT_MS = 300_000;
/** The protocol name kafkajs's default (round-robin) assignor joins a group with. */
const KAFKAJS_ROUND_ROBIN = 'RoundRobinAssigner';
/** Records fetched and not yet handled, per subscription, above which fetching pauses. */
const MIN_QUEUED_BOUND = 256;

/** What a PlatformaticGroupMember needs from its transport. */
export interface MemberOptions {
  readonly client: PlatformaticClient;
  readonly transport: PlatformaticKafkaTransportOptions;
  /** TLS and SASL of every connection (see platformaticSecurity). */
  readonly security: PlatformaticSecurity;
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
export class PlatformaticGroupMember {
  private consumer?: PConsumer;
  private stream?: PStream;
  private state: State = { kind: 'joining' };
  private closed = false;
  private rejoinAttempts = 0;
  private readonly queues = new Map<string, PartitionQueue>();
  private queued = 0;
  private readonly limit: ConcurrencyLimit;
  private readonly bound: number;
  private readonly fencing: InstanceFencing;
  private readonly hold: RebalanceHold;
  /** A rejoin is being prepared: no batch starts until the member has joined again. */
  private rejoining = false;
  /** `<partition>:<topic>` of each partition assigned to this member at its last join. */
  private assigned = new Set<string>();

  constructor(private readonly options: MemberOptions) {
    const concurrency = options.transport.concurrency ?? DEFAULT_CONCURRENCY;
    this.limit = new ConcurrencyLimit(concurrency);
    this.bound = Math.max(MIN_QUEUED_BOUND, concurrency * 32);
    this.fencing = new InstanceFencing(options.client, options.consume.groupId, options.log);
    this.hold = new RebalanceHold(options.client, options.log);
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
    const { client, transport, consume, security } = this.options;
    const sessionTimeout = transport.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const heartbeatInterval = Math.min(3000, Math.floor(sessionTimeout / 3));
    const rebalanceTimeout = Math.max(
      sessionTimeout,
      transport.rebalanceTimeoutMs ?? DEFAULT_REBALANCE_TIMEOUT_MS,
    );
    this.rejoining = false;
    const consumer: PConsumer = new client.Consumer({
      clientId: transport.clientId,
      groupId: consume.groupId,
      bootstrapBrokers: [...transport.brokers],
      ...(transport.groupInstanceId ? { groupInstanceId: transport.groupInstanceId } : {}),
      sessionTimeout,
      rebalanceTimeout,
      heartbeatInterval,
      ...security,
      // kafkajs's name for the round-robin assignor (the same assignment): members on either client
      // can then share a group, e.g. while replicas are switched from one client to the other.
      protocols: [{ name: KAFKAJS_ROUND_ROBIN, version: 1 }],
      partitionAssigner: client.roundRobinAssigner,
      // Asked before each JoinGroup: answered once the batches in flight are handled and committed.
      protocolsMetadata: () => this.beforeJoin(consumer, heartbeatInterval, rebalanceTimeout),
      autocommit: false,
      maxWaitTime: consume.fetch?.maxWaitMs ?? 200,
      minBytes: consume.fetch?.minBytes ?? 1,
      isolationLevel: client.FetchIsolationLevels.READ_COMMITTED,
    });
    this.consumer = consumer;
    this.state = { kind: 'joining' };
    if (transport.groupInstanceId) {
      const instanceId = transport.groupInstanceId;
      this.fencing.watch(
        consumer,
        () => this.consumer === consumer && !this.closed,
        () => this.fenced(consumer, instanceId),
      );
    }
    let memberId: string | undefined;
    consumer.on(
      'consumer:group:join',
      (joined: { memberId?: string; generationId?: number; assignments?: unknown }) => {
        if (this.consumer !== consumer) return;
        this.options.log.debug(
          { generationId: joined.generationId, assignments: joined.assignments },
          `joined group ${this.groupId}`,
        );
        // A static member gets a new member id only when the broker dropped the one it had: once
        // after a session timeout; again and again when another process shares its instance id.
        const replaced = memberId !== undefined && joined.memberId !== memberId;
        memberId = joined.memberId;
        if (replaced && transport.groupInstanceId && this.fencing.memberReplaced(sessionTimeout)) {
          this.fenced(consumer, transport.groupInstanceId);
          return;
        }
        // The stream reads every partition again from its committed offset: what is queued is stale.
        for (const queue of this.queues.values()) this.drop(queue);
        this.assigned = new Set(
          (consumer.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${p}:${a.topic}`)),
        );
        this.rejoining = false;
        this.stream?.resume();
        this.state = { kind: 'consuming' };
      },
    );
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

  private fenced(consumer: PConsumer, instanceId: string): void {
    this.fencing.stop();
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

  /**
   * Before (re)joining: starts no more batches and answers the client once those in flight are
   * handled and their offsets committed, heartbeating meanwhile (see RebalanceHold). What is still
   * queued is dropped at the join (the stream then reads it again from the committed offsets).
   */
  private async beforeJoin(
    consumer: PConsumer,
    heartbeatIntervalMs: number,
    rebalanceTimeoutMs: number,
  ): Promise<Buffer> {
    const running = [...this.queues.values()].map((q) => q.running).filter((r) => r !== undefined);
    if (this.consumer === consumer && running.length > 0) {
      this.rejoining = true;
      // What it fetches now is dropped at the join: stop fetching until then.
      this.stream?.pause();
      this.options.log.debug(
        `group ${this.groupId}: rebalance; rejoining once ${running.length} batch(es) finish`,
      );
      await this.hold.hold(
        consumer,
        Promise.all(running).then(() => undefined),
        heartbeatIntervalMs,
        rebalanceTimeoutMs,
      );
    }
    return Buffer.alloc(0);
  }

  /** Leaves the group; the batches in flight finish and commit first. */
  async close(): Promise<void> {
    this.closed = true;
    this.fencing.stop();
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
    // A fetch sent before a join can be answered after it, stamped with the new generation: records
    // of a partition this member no longer owns are the new owner's to handle.
    if (!this.assigned.has(key)) return;
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
    if (this.stream?.isPaused() && this.queued < this.bound / 2 && !this.closed && !this.rejoining)
      this.stream.resume();
  }

  /** Starts the partition's next batch unless one runs or it waits for a delay. */
  private dispatch(consumer: PConsumer, queue: PartitionQueue): void {
    if (queue.running || queue.pending.length === 0 || queue.timer || this.closed || this.rejoining) return;
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
