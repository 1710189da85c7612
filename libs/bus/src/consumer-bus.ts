import type { EventEnvelope, Stage, TopicSpec } from '@llmbus/contracts';
import type { DedupStore } from './dedup-store';
import type { Outgoing } from './outgoing';
import type { RecordSink } from './transport';

/**
 * What the consumer loop (`processMessage`) needs of the bus: its limits, topic names,
 * de-duplication and publishing. `EventBus` implements it; the consumer depends on this alone, so
 * the bus and its consumer loop do not import each other.
 */
export interface ConsumerBus {
  /** Largest accepted encoded event, in bytes. */
  readonly maxEventBytes: number;
  /** Handler attempts in process for transient faults. */
  readonly maxAttempts: number;
  /** First backoff delay in milliseconds. */
  readonly retryDelayMs: number;
  /** Delays of the delayed retry rounds, in milliseconds, round 1 first. */
  readonly retryTopicDelaysMs: readonly number[];
  readonly dedup: DedupStore;
  /** Aborted when the process stops and its grace period is over (EventBus.abortInFlight). */
  readonly shutdownSignal: AbortSignal;
  /** The physical name (with the namespace prefix) of a logical topic. */
  physicalTopic(name: string): string;
  /** The logical name of a physical topic of this namespace; undefined for a foreign one. */
  logicalTopic(physical: string): string | undefined;
  /** Delayed retry rounds a stage gets (0 when it redelivers instead). */
  retryRounds(stage: Stage, onRetriesExhausted: 'dead-letter' | 'redeliver' | undefined): number;
  /** The stage's dead-letter topic. */
  deadLetterTopic(stage: Stage): TopicSpec;
  /** Publishes events caused by `cause` through `output`; resolves once the broker has them all. */
  publish(
    events: readonly Outgoing[],
    cause: { envelope: EventEnvelope; stage: Stage | 'ingress' },
    output: RecordSink,
  ): Promise<EventEnvelope<object>[]>;
}
