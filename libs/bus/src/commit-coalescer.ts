/** An offset to commit: the next offset to read of one topic partition (Kafka's convention). */
export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

interface PendingCommit {
  topic: string;
  partition: number;
  offset: string;
  readonly waiters: { resolve: () => void; reject: (error: unknown) => void }[];
  /** Whether a request carrying this offset (merged or alone) was committed, once it is known. */
  readonly committed: Promise<boolean>;
  readonly report: (committed: boolean) => void;
}

/**
 * Merges the offset commits of several partitions asked for in the same turn of the event loop into
 * one commit request: a consumer of many partitions (the auditor reads every platform topic) sent
 * one OffsetCommit request per partition batch, each a write to the broker's offsets log, even
 * when a group commit of its store had just finished several of them at once. A request does not
 * wait for another in flight (waiting for it serialised the commits of a busy consumer and cost
 * throughput at saturation); the only delay is the rest of the current turn.
 *
 * Delivery is unchanged for each caller: its promise resolves only once a request carrying its
 * offset, or a later one of the same partition (which covers it), succeeded. When a merged request
 * fails, each partition's offset is committed again alone, so every caller gets its own outcome (a
 * partition lost in a rebalance fails only its own callers). An offset committed again alone never
 * goes out over a later offset of its partition that was committed or is in flight: it waits for
 * that later request and is covered by it, so the group's position never moves back (a merged
 * request that timed out on a dead connection may fail after a later one got through).
 */
export class CommitCoalescer {
  private pending = new Map<string, PendingCommit>();
  private scheduled = false;
  /**
   * The offset of each partition (by key) in the request sent last, and whether it was committed:
   * an offset retried alone is covered only by one sent after it (not by an older, larger offset
   * from before the group's position was reset).
   */
  private readonly newest = new Map<string, { offset: bigint; committed: Promise<boolean> }>();

  /** `send`: commits the offsets in one request; rejects when any of them is not committed. */
  constructor(private readonly send: (offsets: readonly PartitionOffset[]) => Promise<void>) {}

  /** Resolves once `offset` (or a later one) of the partition is committed; rejects when it cannot be. */
  commit(topic: string, partition: number, offset: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `${partition}:${topic}`;
      const entry = this.pending.get(key);
      if (entry === undefined) {
        let report: (committed: boolean) => void = () => undefined;
        const committed = new Promise<boolean>((settled) => (report = settled));
        this.pending.set(key, {
          topic,
          partition,
          offset,
          waiters: [{ resolve, reject }],
          committed,
          report,
        });
      } else {
        if (BigInt(offset) > BigInt(entry.offset)) entry.offset = offset;
        entry.waiters.push({ resolve, reject });
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Sends the offsets asked for in this turn in one request. */
  private async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.scheduled = false;
    for (const { topic, partition, offset, committed } of batch) {
      this.newest.set(`${partition}:${topic}`, { offset: BigInt(offset), committed });
    }
    try {
      await this.send(batch.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
      for (const entry of batch) settle(entry);
    } catch (error) {
      if (batch.length === 1) settle(batch[0], { error });
      else await Promise.all(batch.map((entry) => this.sendAlone(entry)));
    }
  }

  private async sendAlone(entry: PendingCommit): Promise<void> {
    const { topic, partition, offset } = entry;
    // A later offset of the partition sent meanwhile covers this one once committed; sent now, this
    // one could reach the broker after it and move the group back.
    let awaited = entry.committed;
    for (;;) {
      const later = this.newest.get(`${partition}:${topic}`);
      if (later === undefined || later.committed === awaited || later.offset <= BigInt(offset)) break;
      awaited = later.committed;
      if (await later.committed) {
        settle(entry);
        return;
      }
    }
    try {
      await this.send([{ topic, partition, offset }]);
      settle(entry);
    } catch (error) {
      settle(entry, { error });
    }
  }
}

/** Resolves the entry's callers, or rejects them with `failure.error`. */
function settle(entry: PendingCommit, failure?: { error: unknown }): void {
  entry.report(failure === undefined);
  for (const waiter of entry.waiters) {
    if (failure === undefined) waiter.resolve();
    else waiter.reject(failure.error);
  }
}
