import { randomUUID } from 'node:crypto';
import {
  attributesToHeaders,
  DeadLetterTopics,
  EVENTS,
  eventByType,
  TOPICS,
  EnvelopeAttributes,
  EventEnvelope,
  RETRY_ROUNDS,
  isRetryTopic,
  isStreamTopic,
  retryTopicsOf,
  Stage,
  topicName,
} from '@llmbus/contracts';
import type { Logger } from 'pino';
import { inConsumerSpan, startSendSpans } from './bus-tracing';
import type { ConsumerBus } from './consumer-bus';
import { deriveEventId } from './event-ids';
import { DedupStore, InMemoryDedupStore } from './dedup-store';
import { EventRejectedError } from './errors';
import type { HeaderCarrier } from './header-carrier';
import type { Outgoing } from './outgoing';
import { processMessage, StageHandlers } from './stage-consumer';
import { childTraceparent } from './trace-context';
import type {
  BusTransport,
  ConsumerHealth,
  FetchWait,
  OutgoingRecord,
  RecordSink,
  Subscription,
} from './transport';

export interface EventBusOptions {
  /** CloudEvents `source` prefix, e.g. `/llmbus`; the stage name is appended. */
  readonly source?: string;
  /** Namespace prefix for physical topic names (tests use one per test). */
  readonly topicPrefix?: string;
  /** Largest accepted message value in bytes; larger ones are dead-lettered as oversize. */
  readonly maxEventBytes?: number;
  /** Handler attempts for retryable errors before the event is dead-lettered. */
  readonly maxAttempts?: number;
  /** First backoff delay between handler attempts, in milliseconds (doubles each time, full jitter). */
  readonly retryDelayMs?: number;
  /**
   * Delays of the delayed retry rounds in milliseconds, round 1 first (at most RETRY_ROUNDS); a
   * transient failure that outlasts the in-process attempts goes to the stage's retry topic of the
   * next round instead of holding its partition, and to the dead-letter topic after the last.
   * Empty (the default): no retry topics, such failures are dead-lettered at once.
   */
  readonly retryTopicDelaysMs?: readonly number[];
  readonly dedup?: DedupStore;
  /**
   * Carries headers from each consumed event to the events published while handling it (e.g. PII
   * attestations); none by default.
   */
  readonly headerCarrier?: HeaderCarrier;
  readonly logger: Logger;
}

export interface SubscribeOptions {
  readonly stage: Stage;
  /** Defaults to `<topic prefix>llmbus.<stage>`. */
  readonly groupId?: string;
  /** Handlers by event type; `*` receives every known event type on every platform topic. */
  readonly handlers: StageHandlers;
  /**
   * Whether this stage tells requesters about events it rejects (RequestFailed on the result
   * topic). The pipeline stages do; the auditor, which only observes, does not.
   */
  readonly notifyRequester: boolean;
  /**
   * What happens when a retryable fault outlasts the retries. `dead-letter` (default) moves the
   * event aside so the partition keeps flowing; `redeliver` leaves it uncommitted so it comes again
   * until it succeeds, for a stage whose record must be complete (the auditor) rather than timely.
   */
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  /** How the consumer's fetches wait for messages (see FetchWait); default: answer at once. */
  readonly fetch?: FetchWait;
}

/** Publishes and consumes platform events with the envelope, idempotency and failure rules. */
export class EventBus implements ConsumerBus {
  readonly topicPrefix: string;
  readonly maxEventBytes: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly retryTopicDelaysMs: readonly number[];
  readonly dedup: DedupStore;
  readonly logger: Logger;
  private readonly source: string;
  private readonly headerCarrier?: HeaderCarrier;
  private readonly subscriptions = new Set<Subscription>();
  private readonly stopping = new AbortController();

  constructor(
    readonly transport: BusTransport,
    options: EventBusOptions,
  ) {
    this.topicPrefix = options.topicPrefix ?? '';
    this.maxEventBytes = options.maxEventBytes ?? 512 * 1024;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.retryTopicDelaysMs = [...(options.retryTopicDelaysMs ?? [])];
    if (this.retryTopicDelaysMs.length > RETRY_ROUNDS) {
      throw new Error(`at most ${RETRY_ROUNDS} retry topic delays, got ${this.retryTopicDelaysMs.length}`);
    }
    this.dedup = options.dedup ?? new InMemoryDedupStore();
    this.logger = options.logger;
    this.source = options.source ?? '/llmbus';
    this.headerCarrier = options.headerCarrier;
  }

  /**
   * Aborted by abortInFlight, when the process stops and its grace period is over: handlers get it
   * as `HandlerContext.signal`, and a handler that fails once it is aborted is neither retried nor
   * dead-lettered but left uncommitted, so the event comes again on the next start.
   */
  get shutdownSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /** Aborts the work in the handlers (see shutdownSignal); `reason` says why, for logs and errors. */
  abortInFlight(reason: string): void {
    if (!this.stopping.signal.aborted) this.stopping.abort(new Error(`the process is stopping: ${reason}`));
  }

  /** CloudEvents `source` of events published without a cause (by an ingress), e.g. `/llmbus/ingress`. */
  get ingressSource(): string {
    return `${this.source}/ingress`;
  }

  /** Physical name of a logical topic. */
  physicalTopic(name: string): string {
    return topicName(name, this.topicPrefix);
  }

  /** Logical name of a physical topic, or undefined when it is outside this bus's namespace. */
  logicalTopic(physical: string): string | undefined {
    return physical.startsWith(this.topicPrefix) ? physical.slice(this.topicPrefix.length) : undefined;
  }

  /**
   * Builds envelopes for events. With a cause, ids derive from the cause's identity (tenant,
   * source and id), the stage, the attempt and the output slot, and tenant, correlation and trace
   * are inherited from it.
   */
  envelopes(
    events: readonly Outgoing[],
    cause?: { envelope: EventEnvelope; stage: Stage | 'ingress' },
  ): EventEnvelope<object>[] {
    return events.map((event, index) => {
      const attempt = event.attempt ?? 1;
      const key = event.definition.key(event.payload);
      const tenant = cause?.envelope.tenantid ?? event.tenantId;
      if (!tenant) throw new Error(`event ${event.definition.type} has neither a cause nor a tenant`);
      const id =
        event.id ??
        (cause
          ? deriveEventId(cause.envelope, cause.stage, attempt, `${event.definition.type}#${index}`)
          : randomUUID());
      const attrs: EnvelopeAttributes = {
        id,
        source: `${this.source}/${cause?.stage ?? 'ingress'}`,
        type: event.definition.type,
        specversion: '1.0',
        time: new Date().toISOString(),
        subject: event.subject,
        correlationid: cause?.envelope.correlationid ?? key,
        causationid: cause?.envelope.id,
        tenantid: tenant,
        traceparent: childTraceparent(cause?.envelope.traceparent),
        schemaversion: event.definition.schemaVersion,
        attempt,
      };
      return { ...attrs, data: event.payload };
    });
  }

  /**
   * Publishes events and resolves once the broker has acknowledged all of them (or, with the
   * `output` of a message being handled in exactly-once mode, once they are in its transaction).
   */
  async publish(
    events: readonly Outgoing[],
    cause?: { envelope: EventEnvelope; stage: Stage | 'ingress' },
    output: RecordSink = this.transport,
  ): Promise<EventEnvelope<object>[]> {
    const built = this.envelopes(events, cause);
    const sends = startSendSpans(
      built,
      events.map((event) => ({ topic: this.topicOf(event), key: event.definition.key(event.payload) })),
      cause?.envelope.traceparent,
    );
    // With tracing on, each event carries its send span's context (messaging conventions).
    const envelopes = built.map((envelope, i) => ({ ...envelope, traceparent: sends.traceparents[i] }));
    try {
      await output.produce(this.records(events, envelopes));
    } catch (error) {
      sends.end(error);
      throw error;
    }
    sends.end();
    return envelopes;
  }

  private records(
    events: readonly Outgoing[],
    envelopes: readonly EventEnvelope<object>[],
  ): OutgoingRecord[] {
    const carried = this.headerCarrier?.publishHeaders();
    return envelopes.map((envelope, i) => {
      const event = events[i];
      const { data, ...attrs } = envelope;
      const value = JSON.stringify(data);
      if (Buffer.byteLength(value) > this.maxEventBytes) {
        // Terminal: the same payload never fits, so a consumed event that yields it is dead-lettered.
        throw new EventRejectedError(
          'oversize',
          `${event.definition.type} payload is ${Buffer.byteLength(value)} bytes, over the ${this.maxEventBytes}-byte limit (LLMBUS_MAX_EVENT_BYTES)`,
        );
      }
      return {
        topic: this.topicOf(event),
        key: event.definition.key(event.payload),
        headers: carried ? { ...carried, ...attributesToHeaders(attrs) } : attributesToHeaders(attrs),
        value,
      };
    });
  }

  private topicOf(event: Outgoing): string {
    return this.physicalTopic((event.topic ?? event.definition.topic).name);
  }

  /** Starts consuming for a stage; resolves once the consumer has joined its group. */
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const groupId = options.groupId ?? `${this.topicPrefix}llmbus.${options.stage}`;
    const retryTopics = retryTopicsOf(options.stage)
      .slice(0, this.retryRounds(options.stage, options.onRetriesExhausted))
      .map((t) => t.name);
    const topics = [...topicsFor(options.handlers), ...retryTopics].map((t) => this.physicalTopic(t));
    const log = this.logger.child({ stage: options.stage, groupId });
    const setup = { ...options, groupId, log };
    const carrier = this.headerCarrier;
    const subscription = await this.transport.consume({
      groupId,
      topics,
      fetch: options.fetch,
      handle: (message, heartbeat, output) =>
        inConsumerSpan({ stage: options.stage, groupId }, message, () =>
          carrier
            ? carrier.consume(message.headers, () => processMessage(this, setup, message, heartbeat, output))
            : processMessage(this, setup, message, heartbeat, output),
        ),
    });
    this.subscriptions.add(subscription);
    return {
      close: async () => {
        this.subscriptions.delete(subscription);
        await subscription.close();
      },
    };
  }

  /** Whether every subscription of this bus is consuming (readiness); the reason when one is not. */
  health(): ConsumerHealth {
    return this.transport.health();
  }

  /** Stops every subscription, then the transport. */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.subscriptions.clear();
    await this.transport.close();
  }

  /**
   * Delayed retry rounds a stage gets: none for a stage that redelivers instead (the auditor) or
   * that has no retry topics, otherwise one per configured delay.
   */
  retryRounds(stage: Stage, onRetriesExhausted: 'dead-letter' | 'redeliver' | undefined): number {
    if (onRetriesExhausted === 'redeliver') return 0;
    return Math.min(this.retryTopicDelaysMs.length, retryTopicsOf(stage).length);
  }

  /** The dead-letter topic spec of a stage. */
  deadLetterTopic(stage: Stage) {
    return DeadLetterTopics[stage];
  }
}

/** Logical topics a set of handlers needs; `*` means every platform topic except retry and stream topics. */
export function topicsFor(handlers: StageHandlers): string[] {
  // Retry topics hold copies of events already on their original topics, stream topics hold
  // transient drafts: `*` (the auditor) reads neither.
  if (handlers['*'])
    return TOPICS.filter((t) => !isRetryTopic(t.name) && !isStreamTopic(t.name)).map((t) => t.name);
  const topics = new Set<string>();
  for (const type of Object.keys(handlers)) {
    const definition = eventByType(type);
    if (!definition) {
      throw new Error(`no event type ${type}; known types: ${EVENTS.map((e) => e.type).join(', ')}`);
    }
    topics.add(definition.topic.name);
  }
  return [...topics];
}
