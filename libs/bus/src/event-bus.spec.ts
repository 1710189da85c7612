import {
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  Topics,
  TerminalError,
} from '@llmbus/contracts';
import pino from 'pino';
import { register } from 'prom-client';
import { EventRejectedError } from './errors';
import { replayDeadLetters } from './dead-letter-replay';
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

/** Collects every event on a topic through a separate consumer group. */
async function collect(bus: EventBus, type: string, into: EventEnvelope<object>[]) {
  return bus.subscribe({
    stage: 'auditor',
    groupId: `collector-${type}`,
    notifyRequester: false,
    handlers: { [type]: async (e) => (into.push(e), []) },
  });
}

describe('EventBus on the in-process transport', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  beforeEach(() => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1, maxEventBytes: 10_000 });
  });
  afterEach(() => bus.close());

  it('derives output ids, tenant, correlation and causation from the input event', async () => {
    const routed: EventEnvelope<object>[] = [];
    await collect(bus, RequestRoutedEvent.type, routed);
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async (e) => [routedFrom(e)] },
    });
    const [input] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r1'), { tenantId: 'acme' }),
    ]);
    await until(() => routed.length === 1);
    const again = bus.envelopes([routedFrom(input)], { envelope: input, stage: 'router' });
    expect(routed[0]).toMatchObject({
      id: again[0].id,
      tenantid: 'acme',
      correlationid: 'r1',
      causationid: input.id,
      source: '/llmbus/router',
    });
    expect(routed[0].traceparent?.split('-')[1]).toBe(input.traceparent?.split('-')[1]);
  });

  it('handles a redelivered event once and drops the duplicate', async () => {
    let calls = 0;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => (calls++, []) },
    });
    const [first] = await bus.publish([
      outgoing(RequestSubmittedEvent, submitted('r2'), { tenantId: 'acme' }),
    ]);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r2'), { tenantId: 'acme', id: first.id })]);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r3'), { tenantId: 'acme' })]);
    await until(() => calls === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(2);
  });

  it('dead-letters invalid JSON and tells the requester which request failed and why', async () => {
    const dead: EventEnvelope<object>[] = [];
    const failed: EventEnvelope<object>[] = [];
    await collect(bus, DeadLetteredEvent.type, dead);
    await collect(bus, 'llmbus.request.failed', failed);
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    await transport.produceRaw(
      Topics.Request.name,
      'r4',
      {
        ce_id: 'x',
        ce_source: 's',
        ce_type: RequestSubmittedEvent.type,
        ce_specversion: '1.0',
        ce_time: new Date().toISOString(),
        ce_correlationid: 'r4',
        ce_tenantid: 'acme',
        ce_schemaversion: '1',
      },
      Buffer.from('{not json'),
    );
    await until(() => dead.length === 1 && failed.length === 1);
    expect(dead[0].data).toMatchObject({
      reasonCode: 'invalid_event',
      stage: 'router',
      originalValue: '{not json',
    });
    expect(failed[0].data as RequestFailed).toMatchObject({
      requestId: 'r4',
      code: 'invalid_event',
      stage: 'router',
    });
    expect((failed[0].data as RequestFailed).message).toMatch(/not valid JSON/);
  });

  it('retries a transient fault, then dead-letters with processing_error; rejections are not retried', async () => {
    const failed: EventEnvelope<object>[] = [];
    await collect(bus, 'llmbus.request.failed', failed);
    let calls = 0;
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          calls++;
          if ((e.data as RequestSubmitted).requestId === 'bad')
            throw new EventRejectedError('unknown_workflow', 'no such workflow');
          throw Object.assign(new Error('model busy'), { retryable: true });
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('bad'), { tenantId: 'acme' })]);
    await until(() => failed.length === 1);
    expect(calls).toBe(1);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('flaky'), { tenantId: 'acme' })]);
    await until(() => failed.length === 2);
    expect(calls).toBe(1 + 3);
    expect(failed.map((f) => (f.data as RequestFailed).code)).toEqual([
      'unknown_workflow',
      'processing_error',
    ]);
  });

  it('fails a request once, with its own code and details, when a handler throws a domain TerminalError', async () => {
    class UnknownThing extends TerminalError {}
    const failed: EventEnvelope<object>[] = [];
    await collect(bus, 'llmbus.request.failed', failed);
    let calls = 0;
    await bus.subscribe({
      stage: 'generator',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          calls++;
          throw new UnknownThing('unknown_workflow', 'workflow "x@1" is not loaded; known: a@1', [
            'workflow: x@1',
          ]);
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('terminal'), { tenantId: 'acme' })]);
    await until(() => failed.length === 1);
    expect(calls).toBe(1);
    expect(failed[0].data as RequestFailed).toMatchObject({
      code: 'unknown_workflow',
      message: 'workflow "x@1" is not loaded; known: a@1',
      details: ['workflow: x@1'],
      stage: 'generator',
    });
  });

  it('redelivers without committing when publishing the outputs fails', async () => {
    let calls = 0;
    const original = transport.produce.bind(transport);
    let failNext = true;
    jest.spyOn(transport, 'produce').mockImplementation(async (records) => {
      if (failNext && records.some((r) => r.topic === Topics.Routed.name)) {
        failNext = false;
        throw new Error('broker down');
      }
      return original(records);
    });
    const routed: EventEnvelope<object>[] = [];
    await collect(bus, RequestRoutedEvent.type, routed);
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async (e) => (calls++, [routedFrom(e)]) },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r5'), { tenantId: 'acme' })]);
    await until(() => routed.length === 1);
    expect(calls).toBe(2);
  });

  it('keeps redelivering a store fault instead of dead-lettering when the stage asks for it', async () => {
    const dead: EventEnvelope<object>[] = [];
    await collect(bus, DeadLetteredEvent.type, dead);
    let calls = 0;
    await bus.subscribe({
      stage: 'auditor',
      notifyRequester: false,
      onRetriesExhausted: 'redeliver',
      handlers: {
        [RequestSubmittedEvent.type]: async () => {
          calls++;
          if (calls <= 5) throw new Error('audit store unavailable');
          return [];
        },
      },
    });
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r6'), { tenantId: 'acme' })]);
    await until(() => calls === 6, 5000);
    expect(dead).toHaveLength(0);
  });

  it('dead-letters an oversize message with a truncated copy that fits the limit, and moves on', async () => {
    const dead: EventEnvelope<object>[] = [];
    const failed: EventEnvelope<object>[] = [];
    await collect(bus, DeadLetteredEvent.type, dead);
    await collect(bus, 'llmbus.request.failed', failed);
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => (handled.push((e.data as RequestSubmitted).requestId), []),
      },
    });
    const headers = {
      ce_id: 'big-1',
      ce_source: 's',
      ce_type: RequestSubmittedEvent.type,
      ce_specversion: '1.0',
      ce_time: new Date().toISOString(),
      ce_correlationid: 'big',
      ce_tenantid: 'acme',
      ce_schemaversion: '1',
    };
    // Quotes double in size when escaped into the dead-letter record's JSON.
    await transport.produceRaw(Topics.Request.name, 'big', headers, Buffer.from('"'.repeat(20_000)));
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('big'), { tenantId: 'acme' })]);
    await until(() => dead.length === 1 && failed.length === 1 && handled.length === 1);
    expect(dead[0].data).toMatchObject({ reasonCode: 'oversize', originalValueTruncated: true });
    expect((failed[0].data as RequestFailed).message).toMatch(/limit is 10000 bytes/);
    expect(handled).toEqual(['big']);
  });

  it("hands a subscription's fetch wait to the transport, and none by default", async () => {
    const consume = jest.spyOn(transport, 'consume');
    const fetch = { minBytes: 64 * 1024, maxWaitMs: 250 };
    await bus.subscribe({ stage: 'auditor', notifyRequester: false, fetch, handlers: {} });
    await bus.subscribe({ stage: 'router', notifyRequester: true, handlers: {} });
    expect(consume.mock.calls.map(([options]) => options.fetch)).toEqual([fetch, undefined]);
  });

  it('reports consumer lag per partition on scrape', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    const subscription = await bus.subscribe({
      stage: 'router',
      groupId: 'lagging',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => (await gate, handled++, []) },
    });
    await bus.publish(
      ['a', 'a', 'a'].map((id) => outgoing(RequestSubmittedEvent, submitted(id), { tenantId: 'acme' })),
    );
    const lagOf = async () => {
      const metric = await register.getSingleMetric('orchestrator_consumer_lag')!.get();
      return metric.values.filter((v) => v.labels['group'] === 'lagging').reduce((n, v) => n + v.value, 0);
    };
    expect(await lagOf()).toBe(3);
    release();
    await until(() => handled === 3);
    const committed = () =>
      Array.from({ length: Topics.Request.partitions }, (_, p) =>
        transport.committedOffset('lagging', Topics.Request.name, p),
      ).reduce((a, b) => a + b);
    await until(() => committed() === 3);
    expect(await lagOf()).toBe(0);
    await subscription.close();
    const after = await register.getSingleMetric('orchestrator_consumer_lag')!.get();
    expect(after.values.filter((v) => v.labels['group'] === 'lagging')).toEqual([]);
  });

  it('replays dead letters to their original topic once the cause is fixed, honouring the filter', async () => {
    let broken = true;
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          if (broken) throw new Error('model endpoint down');
          handled.push((e.data as RequestSubmitted).requestId);
          return [];
        },
      },
    });
    const dead: EventEnvelope<object>[] = [];
    await collect(bus, DeadLetteredEvent.type, dead);
    await bus.publish([outgoing(RequestSubmittedEvent, submitted('r-replay'), { tenantId: 'acme' })]);
    await until(() => dead.length === 1);
    broken = false;

    expect(await replayDeadLetters(bus, 'router', { reasonCodes: ['invalid_payload'] })).toEqual({
      scanned: 1,
      replayed: 0,
      truncated: 0,
    });
    expect(await replayDeadLetters(bus, 'router', { reasonCodes: ['processing_error'] })).toEqual({
      scanned: 1,
      replayed: 1,
      truncated: 0,
    });
    await until(() => handled.length === 1);
    expect(handled).toEqual(['r-replay']);
  });
});
