import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import {
  EventEnvelope,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { submitted, until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });

function routedFrom(event: EventEnvelope<object>) {
  const data = event.data as RequestSubmitted;
  return outgoing(RequestRoutedEvent, {
    requestId: data.requestId,
    context: {
      workflow: { id: 'support-ticket', version: 1 },
      requester: data.requester,
      modelTier: 'small',
      budget: { maxOutputTokens: 100, maxCostUsd: 0 },
    },
    input: data.input,
    retrieval: { collections: [], topK: 0, query: '' },
  });
}

describe('bus spans with a tracing SDK (messaging conventions)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let bus: EventBus;

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });
  beforeEach(() => {
    exporter.reset();
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1, topicPrefix: 't.' });
  });
  afterEach(() => bus.close());

  it('handles each event in a consumer span whose parent is the send span named by its ce_traceparent', async () => {
    const routed: EventEnvelope<object>[] = [];
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async (e) => [routedFrom(e)] },
    });
    await bus.subscribe({
      stage: 'retriever',
      notifyRequester: true,
      handlers: { [RequestRoutedEvent.type]: async (e) => (routed.push(e), []) },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r1'), { tenantId: 'acme' })]);
    await until(() => routed.length === 1);
    await until(() =>
      exporter.getFinishedSpans().some((s) => s.name === `process t.${RequestRoutedEvent.topic.name}`),
    );

    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((s) => s.name === name);
    const [ingressSend] = named(`send t.${RequestSubmittedEvent.topic.name}`);
    const [routerProcess] = named(`process t.${RequestSubmittedEvent.topic.name}`);
    const [routerSend] = named(`send t.${RequestRoutedEvent.topic.name}`);
    const [retrieverProcess] = named(`process t.${RequestRoutedEvent.topic.name}`);
    expect(ingressSend.kind).toBe(SpanKind.PRODUCER);
    expect(routerProcess.kind).toBe(SpanKind.CONSUMER);
    expect(routerProcess.parentSpanContext?.spanId).toBe(ingressSend.spanContext().spanId);
    expect(routerSend.parentSpanContext?.spanId).toBe(routerProcess.spanContext().spanId);
    expect(retrieverProcess.parentSpanContext?.spanId).toBe(routerSend.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);

    // The event carries its send span's context, so any consumer joins the trace there.
    const { traceId, spanId } = routerSend.spanContext();
    expect(routed[0].traceparent).toBe(`00-${traceId}-${spanId}-01`);
    expect(retrieverProcess.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': `t.${RequestRoutedEvent.topic.name}`,
      'messaging.consumer.group.name': 't.llmbus.retriever',
      'messaging.kafka.message.key': 'r1',
      'messaging.message.id': routed[0].id,
      'messaging.message.conversation_id': 'r1',
      'cloudevents.event_type': RequestRoutedEvent.type,
    });
    expect(routerSend.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.kafka.message.key': 'r1',
    });
  });

  it("continues the cause's trace when publishing outside any handling (a reviewer's decision)", async () => {
    const [input] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r4'), { tenantId: 'acme' }),
    ]);
    exporter.reset();
    const [output] = await bus.publish([routedFrom(input)], { envelope: input, stage: 'router' });
    const [send] = exporter.getFinishedSpans();
    expect(send.spanContext().traceId).toBe(input.traceparent?.split('-')[1]);
    expect(send.parentSpanContext?.spanId).toBe(input.traceparent?.split('-')[2]);
    expect(output.traceparent).toBe(`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
  });

  it('marks a consumer span failed when the handling throws for redelivery', async () => {
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      onRetriesExhausted: 'redeliver',
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          throw new Error('store unavailable');
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r2'), { tenantId: 'acme' })]);
    await until(() =>
      exporter.getFinishedSpans().some((s) => s.kind === SpanKind.CONSUMER && s.status.code === 2),
    );
    const failed = exporter
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.CONSUMER && s.status.code === 2);
    expect(failed?.attributes['error.type']).toBe('Error');
  });
});

describe('bus spans without a tracing SDK', () => {
  it('keeps deriving the trace from the cause: same trace id, a new span id', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const [input] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r3'), { tenantId: 'acme' }),
    ]);
    const [output] = await bus.publish([routedFrom(input)], { envelope: input, stage: 'router' });
    expect(output.traceparent?.split('-')[1]).toBe(input.traceparent?.split('-')[1]);
    expect(output.traceparent).not.toBe(input.traceparent);
    await bus.close();
  });
});
