import { TOPICS } from '@llmbus/contracts';
import { DeliveryDeferredError } from './errors';
import { PartitionLag, registerLagSource } from './metrics';
import type {
  BusTransport,
  ConsumeOptions,
  ConsumerHealth,
  OutgoingRecord,
  RawMessage,
  Subscription,
} from './transport';

interface StoredRecord {
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: Buffer;
}

interface Topic {
  readonly partitions: StoredRecord[][];
}

const REDELIVERY_DELAY_MS = { first: 50, max: 5000 };

/** FNV-1a: a stable hash so one key always lands in one partition, as with Kafka's partitioner. */
function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The bus in one process, for embedded mode: the same topics, per-key partitions, per-partition
 * order, consumer groups with committed offsets, commit only after the handler resolves and
 * redelivery when it rejects. Nothing survives the process; embedded mode trades durability for
 * having no broker.
 */
export class InMemoryTransport implements BusTransport {
  private readonly topics = new Map<string, Topic>();
  private readonly committed = new Map<string, number>();
  /** Woken when the bus closes or a subscription stops: partition loops pausing before a redelivery. */
  private readonly waiters = new Set<() => void>();
  /** Idle partition loops by topic, woken only by a record produced to their topic (or close/stop). */
  private readonly topicWaiters = new Map<string, Set<() => void>>();
  private readonly activeGroups = new Set<string>();
  private closed = false;

  async produce(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closed) throw new Error('in-memory bus is closed');
    const touched = new Set<string>();
    for (const record of records) {
      const topic = this.topic(record.topic);
      const partition = hashKey(record.key) % topic.partitions.length;
      topic.partitions[partition].push({
        key: record.key,
        headers: { ...record.headers },
        value: typeof record.value === 'string' ? Buffer.from(record.value, 'utf8') : record.value,
      });
      touched.add(record.topic);
    }
    for (const name of touched) this.wakeTopic(name);
  }

  /** Appends a raw message as an external producer would, bypassing envelope checks (tests, tools). */
  async produceRaw(
    topic: string,
    key: string | null,
    headers: Record<string, string>,
    value: Buffer,
  ): Promise<void> {
    const t = this.topic(topic);
    t.partitions[hashKey(key ?? '') % t.partitions.length].push({ key: key ?? '', headers, value });
    this.wakeTopic(topic);
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    if (this.activeGroups.has(options.groupId)) {
      throw new Error(`group ${options.groupId} already has a consumer in this process`);
    }
    this.activeGroups.add(options.groupId);
    if (options.fromBeginning === false) {
      // A new group reading live events starts at the end of each partition.
      for (const name of options.topics) {
        this.topic(name).partitions.forEach((log, partition) => {
          const key = `${options.groupId}|${name}|${partition}`;
          if (!this.committed.has(key)) this.committed.set(key, log.length);
        });
      }
    }
    let stopped = false;
    const loops = options.topics.flatMap((name) =>
      this.topic(name).partitions.map((_, partition) =>
        this.partitionLoop(options, name, partition, () => stopped),
      ),
    );
    const unregister = registerLagSource(() => this.lag(options.groupId, options.topics));
    return {
      close: async () => {
        unregister();
        stopped = true;
        this.wakeAll();
        await Promise.all(loops);
        this.activeGroups.delete(options.groupId);
      },
    };
  }

  async lag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    return topics.flatMap((name) =>
      this.topic(name).partitions.map((log, partition) => ({
        groupId,
        topic: name,
        partition,
        lag: log.length - this.committedOffset(groupId, name, partition),
      })),
    );
  }

  /** Every subscription polls its partitions in this process for as long as the bus is open. */
  health(): ConsumerHealth {
    return this.closed ? { consuming: false, reason: 'the in-process bus is closed' } : { consuming: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
  }

  /** Committed offset of a group on a partition (next offset to read), for tests and lag metrics. */
  committedOffset(groupId: string, topic: string, partition: number): number {
    return this.committed.get(`${groupId}|${topic}|${partition}`) ?? 0;
  }

  private async partitionLoop(
    options: ConsumeOptions,
    topicName: string,
    partition: number,
    stopped: () => boolean,
  ) {
    const log = this.topic(topicName).partitions[partition];
    const offsetKey = `${options.groupId}|${topicName}|${partition}`;
    let delay = REDELIVERY_DELAY_MS.first;
    while (!stopped() && !this.closed) {
      const next = this.committed.get(offsetKey) ?? 0;
      if (next >= log.length) {
        const idle = this.idleLoops(topicName);
        await new Promise<void>((resolve) => {
          const wake = () => {
            idle.delete(wake);
            resolve();
          };
          idle.add(wake);
        });
        continue;
      }
      const stored = log[next];
      const message: RawMessage = {
        topic: topicName,
        partition,
        offset: String(next),
        key: stored.key,
        headers: stored.headers,
        value: stored.value,
      };
      try {
        await options.handle(message, async () => undefined, this);
        this.committed.set(offsetKey, next + 1);
        delay = REDELIVERY_DELAY_MS.first;
      } catch (error) {
        if (error instanceof DeliveryDeferredError) {
          // Not due yet: this partition waits (others go on), then the same message comes again.
          await this.sleep(error.delayMs, stopped);
          continue;
        }
        // Same rule as Kafka: nothing committed, the message comes again after a pause.
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, REDELIVERY_DELAY_MS.max);
      }
    }
  }

  /** The idle partition loops of a topic (a produce to it wakes them all; they re-check their partition). */
  private idleLoops(topic: string): Set<() => void> {
    let set = this.topicWaiters.get(topic);
    if (set === undefined) {
      set = new Set();
      this.topicWaiters.set(topic, set);
    }
    return set;
  }

  private wakeTopic(topic: string): void {
    const idle = this.topicWaiters.get(topic);
    if (idle !== undefined) for (const wake of [...idle]) wake();
  }

  /** Wakes every waiting loop, so that stopped subscriptions and a closed bus are noticed. */
  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
    for (const idle of this.topicWaiters.values()) for (const wake of [...idle]) wake();
  }

  /** Waits `ms`, or less when the consumer stops or the bus closes. */
  private async sleep(ms: number, stopped: () => boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = () => {
        if (!stopped() && !this.closed) return;
        this.waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve();
      }, ms);
      this.waiters.add(wake);
    });
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      const spec = TOPICS.find(
        (t) => name === t.name || name.endsWith(`.${t.name}`) || name.endsWith(t.name),
      );
      const count = spec?.partitions ?? 1;
      topic = { partitions: Array.from({ length: count }, () => []) };
      this.topics.set(name, topic);
    }
    return topic;
  }
}
