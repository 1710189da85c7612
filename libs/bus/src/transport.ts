import type { PartitionLag } from './metrics';

/** A message as read from a topic, before any validation. */
export interface RawMessage {
  /** Physical topic name (with any namespace prefix). */
  readonly topic: string;
  readonly partition: number;
  /** Offset as a decimal string (Kafka offsets exceed 2^53). */
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly value: Buffer | null;
}

/** A record to produce. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text for events; the bytes as received for copies of consumed messages (retry topics). */
  readonly value: string | Buffer;
}

/** Lets long work keep the consumer's group membership alive. */
export type Heartbeat = () => Promise<void>;

/** Where records are produced: the transport itself, or the transaction of the message being handled. */
export interface RecordSink {
  /** Resolves once the records are acknowledged (or, in a transaction, part of it). */
  produce(records: readonly OutgoingRecord[]): Promise<void>;
}

/**
 * How long a fetch may wait for messages: the broker answers once `minBytes` of messages are there,
 * or after `maxWaitMs`. A reader off the requests' path (the auditor, which reads every topic)
 * waits for more, so that one fetch, one group commit of its store and one offset commit serve
 * many events instead of one each.
 */
export interface FetchWait {
  /** Bytes of messages (across the consumer's partitions) a fetch waits for, at least 1. */
  readonly minBytes: number;
  /** Milliseconds a fetch waits for them at most. */
  readonly maxWaitMs: number;
}

/** How a stage's consume-transform-produce step is made durable. */
export type DeliveryMode = 'at-least-once' | 'exactly-once';

export interface ConsumeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Where a group without committed offsets starts: the oldest retained message (default, so a
   * new stage loses nothing) or, when false, the end of each partition (readers of live events).
   */
  readonly fromBeginning?: boolean;
  /**
   * The group belongs to this subscription only (a reader of live events): closing the
   * subscription deletes the group from the broker, so restarts leave no group behind.
   */
  readonly deleteGroupOnClose?: boolean;
  /** How the consumer's fetches wait for messages (Kafka only; see FetchWait). Default: answer at once. */
  readonly fetch?: FetchWait;
  /**
   * Called for each message, one at a time per partition, in offset order. The transport commits
   * the message's offset only after the returned promise resolves; when it rejects, the message is
   * delivered again (nothing is committed), so a crash or infrastructure fault loses nothing.
   * A rejection with DeliveryDeferredError is not a fault: the transport pauses that partition
   * for the error's delay, then delivers the same message again, without logging an error.
   * Outputs of the message go through `output`: in exactly-once mode it is a Kafka transaction
   * that also carries the message's offset, so outputs and commit are visible together or not at all.
   */
  readonly handle: (message: RawMessage, heartbeat: Heartbeat, output: RecordSink) => Promise<void>;
}

export interface Subscription {
  /** Stops consuming; in-flight messages finish first; their offsets are committed if they succeed. */
  close(): Promise<void>;
}

/** Whether every subscription of a transport is consuming; when not, `reason` names one that is not and why. */
export interface ConsumerHealth {
  readonly consuming: boolean;
  readonly reason?: string;
}

/** The port both the Kafka and the in-process transports implement, with the same delivery rules. */
export interface BusTransport extends RecordSink {
  /** Resolves only when every record is durably acknowledged (all in-sync replicas for Kafka). */
  produce(records: readonly OutgoingRecord[]): Promise<void>;
  consume(options: ConsumeOptions): Promise<Subscription>;
  /** Messages between the group's committed offsets and the ends of the topics' partitions. */
  lag(groupId: string, topics: readonly string[]): Promise<readonly PartitionLag[]>;
  /** Consuming while every open subscription is in its group and fetching (readiness). */
  health(): ConsumerHealth;
  close(): Promise<void>;
}
