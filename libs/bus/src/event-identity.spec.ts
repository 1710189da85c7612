import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestRouted,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  Topics,
} from '@llmbus/contracts';
import pino from 'pino';
import { EventBus } from './event-bus';
import { deriveEventId } from './event-ids';
import { InMemoryTransport } from './in-memory-transport';
import { outgoing } from './outgoing';
import { until } from './testing/bus-test-support';

const logger = pino({ level: 'silent' });

/** Binary-mode headers of a RequestSubmitted as an upstream producer writes them. */
function headers(id: string, source: string, tenant: string, requestId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    ce_id: id,
    ce_source: source,
    ce_type: RequestSubmittedEvent.type,
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: requestId,
    ce_tenantid: tenant,
    ce_schemaversion: '1',
  };
}

const submitted = (requestId: string): RequestSubmitted => ({
  requestId,
  eventType: 'ticket.created',
  input: { subject: 's' },
  requester: { groups: [] },
});

describe('event identity: tenant + source + id', () => {
  let transport: InMemoryTransport;
  let bus: EventBus;
  beforeEach(() => {
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1 });
  });
  afterEach(() => bus.close());

  /** Collects every event of some types through a consumer group of its own (de-duplicating, as every consumer does). */
  async function collect(groupId: string, types: string[]): Promise<EventEnvelope<object>[]> {
    const into: EventEnvelope<object>[] = [];
    await bus.subscribe({
      stage: 'auditor',
      groupId,
      notifyRequester: false,
      handlers: Object.fromEntries(
        types.map((t) => [t, async (e: EventEnvelope<object>) => (into.push(e), [])]),
      ),
    });
    return into;
  }

  const send = (id: string, source: string, tenant: string, requestId: string, value: unknown) =>
    transport.produceRaw(
      Topics.Request.name,
      requestId,
      headers(id, source, tenant, requestId),
      Buffer.from(JSON.stringify(value)),
    );

  it('handles events that share an id but not the source or tenant each once, with outputs of their own downstream', async () => {
    const routed = await collect('observer', [RequestRoutedEvent.type]);
    const handled: string[] = [];
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: {
        [RequestSubmittedEvent.type]: async (e) => {
          const d = e.data as RequestSubmitted;
          handled.push(`${e.tenantid}/${e.source}/${d.requestId}`);
          return [
            outgoing(RequestRoutedEvent, {
              requestId: d.requestId,
              context: {
                workflow: { id: 'support-ticket', version: 1 },
                requester: d.requester,
                modelTier: 'small',
                budget: { maxOutputTokens: 10, maxCostUsd: 0 },
              },
              input: d.input,
              retrieval: { collections: [], topK: 0, query: '' },
            }),
          ];
        },
      },
    });
    await send('same-id', '/upstream/a', 'acme', 'r1', submitted('r1'));
    await send('same-id', '/upstream/b', 'acme', 'r2', submitted('r2'));
    await send('same-id', '/upstream/a', 'globex', 'r1', submitted('r1'));
    // A true duplicate (same tenant, source and id) is still dropped; the marker after it on the
    // same key shows it was read.
    await send('same-id', '/upstream/a', 'acme', 'r1', submitted('r1'));
    await send('marker', '/upstream/a', 'acme', 'r1', submitted('r1'));

    await until(() => routed.length === 4);
    expect(handled.sort()).toEqual([
      'acme//upstream/a/r1',
      'acme//upstream/a/r1',
      'acme//upstream/b/r2',
      'globex//upstream/a/r1',
    ]);
    expect(new Set(routed.map((e) => e.id)).size).toBe(4);
    expect(
      routed.map((e) => `${e.tenantid}/${(e.data as RequestRouted).requestId}/${e.causationid}`).sort(),
    ).toEqual(['acme/r1/marker', 'acme/r1/same-id', 'acme/r2/same-id', 'globex/r1/same-id']);
  });

  it('dead-letters rejected events that share an id but not the source, each with its own dead letter and RequestFailed', async () => {
    const outcomes = await collect('observer', [DeadLetteredEvent.type, RequestFailedEvent.type]);
    await bus.subscribe({
      stage: 'router',
      notifyRequester: true,
      handlers: { [RequestSubmittedEvent.type]: async () => [] },
    });
    for (const source of ['/upstream/a', '/upstream/b', '/upstream/c']) {
      const requestId = `bad-${source.slice(-1)}`;
      await send('same-id', source, 'acme', requestId, { ...submitted(requestId), input: 'not an object' });
    }
    await until(() => outcomes.length === 6);
    const dead = outcomes.filter((e) => e.type === DeadLetteredEvent.type);
    const failed = outcomes.filter((e) => e.type === RequestFailedEvent.type);
    expect(dead.map((e) => (e.data as DeadLettered).originalHeaders['ce_source']).sort()).toEqual([
      '/upstream/a',
      '/upstream/b',
      '/upstream/c',
    ]);
    expect(failed.map((e) => (e.data as RequestFailed).requestId).sort()).toEqual([
      'bad-a',
      'bad-b',
      'bad-c',
    ]);
    expect(new Set(outcomes.map((e) => e.id)).size).toBe(6);
    expect(failed.every((e) => e.tenantid === 'acme')).toBe(true);
  });

  it('derives the same output id only from the same tenant, source and id', () => {
    const cause = { tenantid: 'acme', source: '/upstream/a', id: 'e-1' };
    const id = deriveEventId(cause, 'router', 1, 'slot');
    expect(deriveEventId({ ...cause }, 'router', 1, 'slot')).toBe(id);
    for (const other of [
      { ...cause, tenantid: 'globex' },
      { ...cause, source: '/upstream/b' },
      { ...cause, id: 'e-2' },
      // The parts cannot run into each other.
      { tenantid: 'acme', source: '/upstream/a|e', id: '1' },
    ]) {
      expect(deriveEventId(other, 'router', 1, 'slot')).not.toBe(id);
    }
    expect(deriveEventId(cause, 'router', 2, 'slot')).not.toBe(id);
  });

  it('derives the ids earlier versions derived, so a redelivery across an upgrade is still a duplicate', () => {
    const cause = { tenantid: 'acme', source: '/llmbus/router', id: 'f1d2a0b4-1111-4a4a-9999-123456789abc' };
    expect(deriveEventId(cause, 'retriever', 1, 'orchestration.context.retrieved#0')).toBe(
      '848fa43f-2d11-5e34-b3a2-aaca728ac8c8',
    );
    const odd = { tenantid: 'ténant ☃', source: '/x\u0000y', id: '\ud800lone' };
    expect(deriveEventId(odd, 'ingress', 2, 'a#1')).toBe('b25b6589-b4ec-55b6-b044-c173a17ce1f2');
  });
});
