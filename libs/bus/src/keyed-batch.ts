/**
 * Bounds how many messages one consumer works on at once, across all the partitions it owns.
 * Waiters get a slot in the order they asked for one.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** `max`: messages in flight at most (at least 1). */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`concurrency must be an integer >= 1, got ${max}`);
  }

  /** Resolves once a slot is free; the caller must `release()` it. */
  acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Frees a slot, handing it to the longest waiter if any. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }
}

/** What a message needs to be scheduled: its position and its key. */
export interface KeyedMessage {
  readonly offset: string;
  readonly key: Buffer | null;
}

/**
 * How one message ended: `handled` (its offset may be committed once every earlier one is),
 * `committed` (handled, and its offset is already committed: in a Kafka transaction),
 * `stop` (not handled and not to be committed: no later message of the batch starts; it comes
 * again, e.g. a retry record that is not due yet).
 */
export type MessageOutcome = 'handled' | 'committed' | 'stop';

export interface KeyedBatchOptions<M extends KeyedMessage> {
  readonly limit: ConcurrencyLimit;
  /** One lane for the whole batch (strict partition order: exactly-once) instead of one per key. */
  readonly sequential: boolean;
  /** Handles one message; a rejection stops the batch like `stop` and is rethrown at its end. */
  readonly handle: (message: M) => Promise<MessageOutcome>;
  /** False once the batch must not start more messages (consumer stopping, partition sought). */
  readonly active: () => boolean;
  /**
   * Called, one call at a time and in offset order, with the offset of the last message of a
   * prefix of the batch that is fully handled; `commit` says whether its offset still needs a
   * commit. Calls are coalesced: while one runs, later prefixes are folded into the next call.
   */
  readonly completed: (offset: string, commit: boolean) => Promise<void>;
  /**
   * Called once at the end of a batch that did not handle every message (a `stop` or a failure),
   * with the offset of the first message not handled: where the partition must be read again
   * from. Messages after it may have been handled, or never started (a key's lane stops at a stop).
   */
  readonly incomplete?: (offset: string) => void;
}

/**
 * Handles one partition's batch with messages of different keys at once and messages of one key
 * in offset order (Kafka's ordering unit is the key: a request's events share it), bounded by
 * `limit`. Offsets are completed only as a contiguous prefix, so a commit never covers a message
 * whose outputs are not yet produced (commit-after-produce). After a failure or `stop`, no later
 * message starts; those already running finish, the prefix before the first unfinished message
 * is completed, and the failure is rethrown so that the transport delivers the rest again (later
 * messages that did finish come again and are dropped as duplicates by the stage).
 */
export async function processKeyedBatch<M extends KeyedMessage>(
  messages: readonly M[],
  options: KeyedBatchOptions<M>,
): Promise<void> {
  const outcomes: (MessageOutcome | undefined)[] = new Array(messages.length);
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let next = 0;
  let commitTarget: { index: number } | undefined;
  let committing: Promise<void> | undefined;

  const flush = async (): Promise<void> => {
    while (commitTarget) {
      const { index } = commitTarget;
      commitTarget = undefined;
      try {
        await options.completed(messages[index].offset, outcomes[index] !== 'committed');
      } catch (error) {
        // A failed commit (the member lost its partitions) ends the batch: nothing more starts.
        stopped = true;
        failure ??= { error };
        commitTarget = undefined;
        return;
      }
    }
  };
  const advance = (): void => {
    const from = next;
    while (next < messages.length && (outcomes[next] === 'handled' || outcomes[next] === 'committed'))
      next += 1;
    if (next === from) return;
    commitTarget = { index: next - 1 };
    committing ??= flush().finally(() => (committing = undefined));
  };

  const run = async (index: number): Promise<void> => {
    await options.limit.acquire();
    try {
      if (stopped || !options.active()) {
        stopped = true;
        return;
      }
      const outcome = await options.handle(messages[index]);
      if (outcome === 'stop') {
        stopped = true;
        return;
      }
      outcomes[index] = outcome;
      advance();
    } catch (error) {
      stopped = true;
      failure ??= { error };
    } finally {
      options.limit.release();
    }
  };

  const lanes = new Map<string, Promise<void>>();
  const tasks: Promise<void>[] = [];
  for (let index = 0; index < messages.length; index++) {
    const lane = options.sequential ? '' : (messages[index].key?.toString('latin1') ?? '');
    const task = (lanes.get(lane) ?? Promise.resolve()).then(() => (stopped ? undefined : run(index)));
    lanes.set(lane, task);
    tasks.push(task);
  }
  await Promise.all(tasks);
  // A commit may still run: wait for it, and for any prefix folded in meanwhile.
  while (committing) await committing;
  if (next < messages.length) options.incomplete?.(messages[next].offset);
  if (failure) throw failure.error;
}
