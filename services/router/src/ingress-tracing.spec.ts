import { ApiKeyRegistry } from '@llmbus/access';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import { EventEnvelope, RequestSubmittedEvent } from '@llmbus/contracts';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import pino from 'pino';
import request from 'supertest';
import { startRouter } from './index';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};

const logger = pino({ level: 'silent' });
const KEY = 'acme-submitter-key-00001';
const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

describe('router HTTP ingress with a tracing SDK', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let bus: EventBus;
  let app: StageApp;
  const submitted: EventEnvelope<object>[] = [];

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'observer',
      notifyRequester: false,
      handlers: { [RequestSubmittedEvent.type]: async (e) => (submitted.push(e), []) },
    });
    const config = loadPlatformConfig(
      { LLMBUS_MODE: 'embedded' },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    const statusStore = { requestStatus: async () => undefined, ping: async () => undefined };
    const apiKeys = ApiKeyRegistry.parse(`${KEY}:acme:submitter`);
    app = await startRouter({ bus, config, logger, apiKeys, httpPort: 0, classifierModels, statusStore });
  });

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it("continues the caller's trace from its traceparent header into the published event", async () => {
    await request(app.url!)
      .post('/v1/requests')
      .set('X-Api-Key', KEY)
      .set('traceparent', `00-${CALLER_TRACE}-${CALLER_SPAN}-01`)
      .send({
        requestId: 'traced-1',
        eventType: 'ticket.created',
        input: { subject: 's', body: 'b', priority: 'normal' },
      })
      .expect(202);
    const server = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/requests');
    expect(server?.kind).toBe(SpanKind.SERVER);
    expect(server?.spanContext().traceId).toBe(CALLER_TRACE);
    expect(server?.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    const deadline = Date.now() + 5000;
    while (submitted.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(submitted[0].traceparent?.split('-')[1]).toBe(CALLER_TRACE);
  });
});
