// Spans of the bus, after the OpenTelemetry messaging semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/ and .../kafka/):
// a CONSUMER span `process <topic>` per message a stage handles, a PRODUCER span `send <topic>`
// per event published, whose context travels as the event's `ce_traceparent` (the CloudEvents
// distributed-tracing extension). Without a tracing SDK these are the API's no-op spans and
// traceparents keep the bus's own derivation.
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { EnvelopeAttributes } from '@llmbus/contracts';
import type { OutgoingRecord, RawMessage } from './transport';

const tracer = () => trace.getTracer('llmbus');

/** What identifies the consumer of a message in its span. */
export interface ConsumerIdentity {
  readonly stage: string;
  readonly groupId: string;
}

/**
 * Runs the handling of `message` in a CONSUMER span whose parent is the context its producer
 * sent in `ce_traceparent`; the span fails when `handle` throws (the message is redelivered).
 */
export async function inConsumerSpan<T>(
  consumer: ConsumerIdentity,
  message: RawMessage,
  handle: () => Promise<T>,
): Promise<T> {
  const traceparent = message.headers['ce_traceparent'];
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': message.topic,
    'messaging.consumer.group.name': consumer.groupId,
    'messaging.destination.partition.id': String(message.partition),
    'messaging.kafka.offset': Number(message.offset),
    'messaging.message.body.size': message.value?.length ?? 0,
    'llmbus.stage': consumer.stage,
  };
  if (message.key !== null) attributes['messaging.kafka.message.key'] = message.key;
  const id = message.headers['ce_id'];
  if (id !== undefined) attributes['messaging.message.id'] = id;
  const type = message.headers['ce_type'];
  if (type !== undefined) attributes['cloudevents.event_type'] = type;
  const correlation = message.headers['ce_correlationid'];
  if (correlation !== undefined) attributes['messaging.message.conversation_id'] = correlation;
  const tenant = message.headers['ce_tenantid'];
  if (tenant !== undefined) attributes['llmbus.tenant'] = tenant;
  const span = tracer().startSpan(
    `process ${message.topic}`,
    { kind: SpanKind.CONSUMER, attributes },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), handle);
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** PRODUCER spans of records about to be sent; `end` closes them once the broker answered. */
export interface SendSpans {
  /** The traceparent each envelope should carry: the send span's, or the one it had (tracing off). */
  readonly traceparents: readonly (string | undefined)[];
  end(error?: unknown): void;
}

/**
 * Starts a PRODUCER span `send <topic>` per record, children of the active span (the consumer
 * span of the message being handled), or else of the cause's traceparent (an HTTP handler
 * publishing a decision about a recorded event), or else roots of new traces.
 */
export function startSendSpans(
  envelopes: readonly Pick<EnvelopeAttributes, 'id' | 'type' | 'traceparent' | 'correlationid'>[],
  records: readonly Pick<OutgoingRecord, 'topic' | 'key'>[],
  causeTraceparent?: string,
): SendSpans {
  const spans: Span[] = [];
  const active = context.active();
  const parent =
    trace.getSpan(active) === undefined && causeTraceparent !== undefined
      ? propagation.extract(active, { traceparent: causeTraceparent })
      : active;
  const traceparents = records.map((record, i) => {
    const envelope = envelopes[i];
    const span = tracer().startSpan(
      `send ${record.topic}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'send',
          'messaging.operation.name': 'send',
          'messaging.destination.name': record.topic,
          'messaging.message.id': envelope.id,
          'messaging.message.conversation_id': envelope.correlationid,
          'cloudevents.event_type': envelope.type,
          'messaging.kafka.message.key': record.key,
        },
      },
      parent,
    );
    spans.push(span);
    if (!span.isRecording()) return envelope.traceparent;
    const carrier: { traceparent?: string } = {};
    propagation.inject(trace.setSpan(parent, span), carrier);
    return carrier.traceparent ?? envelope.traceparent;
  });
  return {
    traceparents,
    end(error?: unknown) {
      for (const span of spans) {
        if (error !== undefined) failed(span, error);
        span.end();
      }
    },
  };
}

function failed(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.recordException(error instanceof Error ? error : message);
  span.setAttribute('error.type', error instanceof Error ? error.name : 'unknown');
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
