import type { Consumer, ConsumerConfig, EachMessagePayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { CommitCoalescer } from './commit-coalescer';
import { ConcurrencyLimit, MessageOutcome, processKeyedBatch } from './keyed-batch';
import type { ConsumerHealth } from './transport';

export interface KafkaGroupMemberOptions {
  readonly kafka: Kafka;
  readonly consumer: ConsumerConfig;
  readonly topics: readonly string[];
  /** Where a group without committed offsets starts (default: the oldest message). */
  readonly fromBeginning?: boolean;
  /**
   * Messages the member works on at once, across its partitions and keys; messages of one key
   * (or, when `sequential`, of one partition) are handled in offset order.
   */
  readonly concurrency: number;
  /** One message at a time per partition (exactly-once: one transaction at a time per partition). */
  readonly sequential: boolean;
  /**
   * Handles one message; the member commits its offset once it
   * and every earlier message of its partition are handled, unless the outcome says it is
   * committed already. A rejection leaves the offset uncommitted (the message comes again).
   */
  readonly eachMessage: (payload: MemberMessagePayload) => Promise<MessageOutcome>;
  /** Consumers created in a row after crashes kafkajs does not restart from, with no message handled in between. */
  readonly maxRejoinAttempts: number;
  /** Pause before the n-th recreation: n times this, in milliseconds. */
  readonly rejoinDelayMs: number;
  /** Called once when the member gives up: the process should exit non-zero so its supervisor restarts it. */
  readonly onFatal: (error: Error) => void;
  readonly log: Logger;
}

/** What the member hands its handler with each message: kafkajs's payload, plus `defer`. */
export interface MemberMessagePayload extends EachMessagePayload {
  /**
   * This message is not due yet: the partition is paused for `delayMs` (milliseconds), then read
   * again from the first message of the batch not handled (this one or an earlier one), so that
   * nothing is skipped when several defer at once. The caller then ends the message with `stop`.
   */
  readonly defer: (delayMs: number) => void;
}

/** Protocol errors that mean "this member lost its place in the group", not "this consumer is broken". */
const MEMBERSHIP_ERRORS = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);

type State =
  | { readonly kind: 'joining' }
  | { readonly kind: 'consuming' }
  | { readonly kind: 'stopped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'closed' };

/** The original error behind kafkajs's wrappers (KafkaJSNonRetriableError and the like), as `Name: message`. */
function errorText(error: unknown): string {
  let root = error;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  return root instanceof Error ? `${root.name}: ${root.message}` : String(root);
}

/**
 * The protocol error behind a failed commit when the member lost its group membership (evicted
 * during a rebalance, generation moved on). kafkajs wraps it in a non-retriable error that stops the
 * consumer for good ("The coordinator is not aware of this member"); rethrowing the protocol error
 * itself makes kafkajs's runner rejoin the group.
 */
function membershipError(error: unknown): Error | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const type = (e as Error & { type?: unknown }).type;
    if (typeof type === 'string' && MEMBERSHIP_ERRORS.has(type)) return e;
  }
  return undefined;
}

/**
 * One subscription's membership in its consumer group, kept consuming across crashes: kafkajs
 * restarts a consumer after retriable errors itself; after any other crash (`restart: false`) the
 * consumer is recreated, up to `maxRejoinAttempts` times in a row, and then `onFatal` is called.
 * `health()` says whether the member is consuming and, when not, why.
 */
export class KafkaGroupMember {
  private consumer?: Consumer;
  private state: State = { kind: 'joining' };
  private closed = false;
  private rejoinAttempts = 0;
  private rejoining = false;
  /** A crash reported while a rejoin was already under way: handled once that rejoin finishes. */
  private crashedMeanwhile?: Error;
  /** Timers that resume partitions paused by `defer`; cleared on close. */
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: KafkaGroupMemberOptions) {}

  get groupId(): string {
    return this.options.consumer.groupId;
  }

  /** Connects, subscribes and runs; resolves once joined. Rejects when the first join fails for good. */
  start(): Promise<void> {
    return this.startConsumer();
  }

  /** Whether the member is in its group and fetching; the reason when it is not. */
  health(): ConsumerHealth {
    const state: State = this.closed ? { kind: 'closed' } : this.state;
    switch (state.kind) {
      case 'consuming':
        return { consuming: true };
      case 'joining':
        return { consuming: false, reason: `group ${this.groupId}: joining` };
      case 'stopped':
      case 'failed':
        return { consuming: false, reason: `group ${this.groupId}: ${state.reason}` };
      case 'closed':
        return { consuming: false, reason: `group ${this.groupId}: closed` };
    }
  }

  /** Leaves the group; in-flight messages finish first. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect();
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.options.kafka.consumer(this.options.consumer);
    this.consumer = consumer;
    this.state = { kind: 'joining' };
    let joinedOnce = false;
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joinedOnce = true;
        if (this.consumer === consumer) this.state = { kind: 'consuming' };
        resolve();
      });
      consumer.on(consumer.events.STOP, () => {
        if (this.consumer === consumer) this.state = { kind: 'stopped', reason: 'the consumer stopped' };
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!joinedOnce && !payload.restart) reject(payload.error);
        if (this.consumer !== consumer) return;
        if (payload.restart) {
          this.state = {
            kind: 'stopped',
            reason: `crashed (${errorText(payload.error)}); kafkajs restarts it`,
          };
          this.options.log.warn({ err: payload.error }, 'consumer crashed; kafkajs restarts it');
        } else if (joinedOnce) {
          void this.rejoin(payload.error);
        }
      });
    });
    // Only the awaits below observe a rejection; this keeps an early one from being reported unhandled.
    joined.catch(() => undefined);
    await consumer.connect();
    await consumer.subscribe({
      topics: [...this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    const limit = new ConcurrencyLimit(this.options.concurrency);
    // The commits of several partitions asked for in one turn of the event loop go out as one request.
    const commits = new CommitCoalescer((offsets) => consumer.commitOffsets([...offsets]));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, pause, isRunning, isStale }) => {
        const { topic, partition } = batch;
        // A rebalance noticed between messages: start no more of the batch, so that the member
        // rejoins once the messages in flight are done (as kafkajs's eachMessage loop does).
        let rebalance: Error | undefined;
        // A message not due yet pauses the partition until it is. The partition is then read again
        // from the first message of the batch not handled (reported at the batch's end), which may
        // be before the deferred one: several of different keys may defer at once, and a key's
        // later messages never start after a stop. Seeking to the deferred message itself would
        // skip those (kafkajs keeps the last seek), and their requests would never end.
        let deferred = false;
        const defer = (delayMs: number): void => {
          deferred = true;
          const resume = pause();
          const timer = setTimeout(() => {
            this.resumeTimers.delete(timer);
            resume();
          }, delayMs);
          this.resumeTimers.add(timer);
        };
        try {
          await processKeyedBatch(batch.messages, {
            limit,
            sequential: this.options.sequential,
            active: () => rebalance === undefined && isRunning() && !isStale(),
            handle: async (message) => {
              const outcome = await this.options.eachMessage({
                topic,
                partition,
                message,
                heartbeat,
                pause,
                defer,
              });
              // The message is handled: a failed heartbeat must not make it fail (it would come again).
              await heartbeat().catch((error: unknown) => void (rebalance ??= membershipError(error)));
              return outcome;
            },
            completed: async (offset, commit) => {
              const next = (BigInt(offset) + 1n).toString();
              if (commit) await commits.commit(topic, partition, next);
              resolveOffset(offset);
              this.rejoinAttempts = 0;
            },
            incomplete: (offset) => {
              if (deferred) consumer.seek({ topic, partition, offset });
            },
          });
        } catch (error) {
          throw membershipError(error) ?? error;
        }
        if (rebalance) throw rebalance;
      },
    });
    await joined;
    // Closed while joining: close() may have disconnected this consumer before it connected.
    if (this.closed) await consumer.disconnect();
  }

  /** Replaces a consumer kafkajs gave up on; after maxRejoinAttempts in a row, reports the failure. */
  private async rejoin(error: Error): Promise<void> {
    if (this.rejoining) {
      this.crashedMeanwhile = error;
      return;
    }
    this.rejoining = true;
    try {
      let cause: unknown = error;
      while (!this.closed) {
        this.rejoinAttempts += 1;
        const { maxRejoinAttempts } = this.options;
        if (this.rejoinAttempts > maxRejoinAttempts) {
          const reason = `stopped after ${maxRejoinAttempts} attempt(s) to rejoin: ${errorText(cause)}`;
          this.state = { kind: 'failed', reason };
          this.options.log.error({ err: cause }, `consumer of group ${this.groupId} ${reason}`);
          this.options.onFatal(new Error(`consumer of group ${this.groupId} ${reason}`, { cause }));
          return;
        }
        const attempt = `attempt ${this.rejoinAttempts} of ${maxRejoinAttempts}`;
        this.state = { kind: 'stopped', reason: `crashed (${errorText(cause)}); rejoining, ${attempt}` };
        this.options.log.error(
          { err: cause },
          `consumer crashed and kafkajs will not restart it; rejoining, ${attempt}`,
        );
        const stale = this.consumer;
        this.consumer = undefined;
        await stale?.disconnect().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, this.options.rejoinDelayMs * this.rejoinAttempts));
        if (this.closed) return;
        try {
          this.crashedMeanwhile = undefined;
          await this.startConsumer();
          this.options.log.info(`consumer rejoined group ${this.groupId}`);
          if (this.crashedMeanwhile === undefined) return;
          cause = this.crashedMeanwhile;
        } catch (startError) {
          cause = startError;
        }
      }
    } finally {
      this.rejoining = false;
    }
  }
}
