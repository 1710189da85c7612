import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContextRetrievedEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import type { AuditInsertRow } from './audit-insert-row';
import { DEFAULT_RETENTION_POLICY } from './audit-retention';
import { PgliteAuditStore } from './pglite-audit-store';
import { RecordedStatuses } from './recorded-statuses';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

const WORKFLOW = { id: 'support-triage', version: 3 };
const context = { workflow: WORKFLOW, requester: { id: 'u-1' } };
let ids = 0;

function event(
  tenant: string,
  requestId: string,
  type: string,
  time: string,
  data: Record<string, unknown> = {},
): EventEnvelope {
  ids += 1;
  return {
    id: `e-${ids}`,
    source: '/test',
    type,
    specversion: '1.0',
    time,
    correlationid: requestId,
    tenantid: tenant,
    schemaversion: 1,
    data: { requestId, ...data },
  } as EventEnvelope;
}

const position = () => ({ topic: 'orchestration.request.v1', partition: 0, offset: String(ids) });

describe('PgliteAuditStore: statuses of the requests it records, from memory', () => {
  let store: PgliteAuditStore;
  let fromTrail: jest.SpyInstance;
  beforeAll(async () => {
    store = await PgliteAuditStore.open();
  });
  afterAll(() => store.close());
  beforeEach(() => {
    fromTrail = jest.spyOn(store, 'requestStatusFromTrail');
  });
  afterEach(() => fromTrail.mockRestore());

  /** requestStatus answered without reading the trail, and what the trail read answers: same JSON. */
  async function expectSameAsTrail(tenant: string, requestId: string, followed = true): Promise<unknown> {
    fromTrail.mockClear();
    const answered = await store.requestStatus(tenant, requestId);
    expect(fromTrail).toHaveBeenCalledTimes(followed ? 0 : 1);
    const read = await store.requestStatusFromTrail(tenant, requestId);
    expect(answered).toStrictEqual(read);
    expect(JSON.stringify(answered)).toBe(JSON.stringify(read));
    return answered;
  }

  it('answers every state of a request as the trail read does, from submission to completion', async () => {
    const tenant = 'acme';
    const steps: [string, string, Record<string, unknown>][] = [
      [RequestSubmittedEvent.type, '2026-03-01T10:00:00.000Z', { input: { subject: 'hi' } }],
      [RequestRoutedEvent.type, '2026-03-01T10:00:01.123456Z', { context }],
      [ContextRetrievedEvent.type, '2026-03-01T12:00:02.9999996+02:00', { context, passages: [] }],
      [ResponseGeneratedEvent.type, '2026-03-01T10:00:03Z', { context, text: 'draft' }],
      [
        ReviewRequestedEvent.type,
        '2026-03-01T10:00:04.5Z',
        { context, reason: 'confidence 0.2 is below 0.5' },
      ],
      [ReviewDecidedEvent.type, '2026-03-01T10:00:05Z', { decision: 'revise' }],
      [
        RegenerationRequestedEvent.type,
        '2026-03-01T10:00:06Z',
        { context: { workflow: { id: 'other', version: 1 } } },
      ],
      [ReviewRequestedEvent.type, '2026-03-01T10:00:07Z', { context, reason: 'still unsure' }],
      [
        RequestCompletedEvent.type,
        '2026-03-01T10:00:08Z',
        {
          workflow: WORKFLOW,
          // Keys in another order than jsonb keeps them, integer-like and non-ASCII ones among them.
          output: {
            zeta: 1,
            a: { yy: [3, { b: 1, a: 2 }], x: null },
            '10': 'ten',
            '2': 'two',
            é: 'e',
            ab: 1.5,
          },
          citations: ['kb-2', 'kb-1'],
          acceptedBy: 'reviewer',
          _piiVault: { v: 1, sealed: 'abc', keyId: 'k' },
        },
      ],
    ];
    const states: unknown[] = [];
    for (const [type, time, data] of steps) {
      await store.record(event(tenant, 'r-full', type, time, data), position());
      states.push(((await expectSameAsTrail(tenant, 'r-full')) as { status: string }).status);
    }
    expect(states).toEqual([
      'accepted',
      'routed',
      'routed',
      'routed',
      'review',
      'review',
      'review',
      'review',
      'completed',
    ]);
    // A later outcome does not overturn the first.
    await store.record(
      event(tenant, 'r-full', RequestFailedEvent.type, '2026-03-01T10:00:09Z', {
        code: 'x',
        message: 'm',
        stage: 'validator',
      }),
      position(),
    );
    expect(await expectSameAsTrail(tenant, 'r-full')).toMatchObject({ status: 'completed' });
  });

  it('answers failures as the trail read does: details, none, null, a missing code', async () => {
    const failures: Record<string, unknown>[] = [
      { code: 'budget_exceeded', message: 'too dear', stage: 'generator', details: ['worst case 0.40 USD'] },
      { code: 'processing_error', message: 'no details', stage: 'validator' },
      { code: 'processing_error', message: 'null details', stage: 'validator', details: null },
      { message: 'no code', stage: 'router', _piiVault: null },
    ];
    for (const [i, failure] of failures.entries()) {
      const request = `r-failed-${i}`;
      await store.record(
        event('acme', request, RequestSubmittedEvent.type, '2026-03-01T10:00:00Z'),
        position(),
      );
      await store.record(
        event('acme', request, RequestRoutedEvent.type, '2026-03-01T10:00:01Z', { context }),
        position(),
      );
      await store.record(
        event('acme', request, RequestFailedEvent.type, '2026-03-01T10:00:02Z', failure),
        position(),
      );
      expect(await expectSameAsTrail('acme', request)).toMatchObject({ status: 'failed' });
    }
  });

  it('orders by event time then recording, whatever order the events come in, in one batch or apart', async () => {
    const t = (s: number) => `2026-03-01T10:00:0${s}Z`;
    // The outcome first, with an earlier event time than a later duplicate; ties on time.
    await Promise.all([
      store.record(
        event('acme', 'r-order', RequestCompletedEvent.type, t(5), { output: { a: 1 } }),
        position(),
      ),
      store.record(event('acme', 'r-order', RequestRoutedEvent.type, t(1), { context }), position()),
      store.record(
        event('acme', 'r-order', ContextRetrievedEvent.type, t(1), {
          context: { workflow: { id: 'w2', version: 2 } },
        }),
        position(),
      ),
    ]);
    expect(await expectSameAsTrail('acme', 'r-order')).toMatchObject({
      status: 'completed',
      workflow: { id: 'w2' },
    });
    await store.record(
      event('acme', 'r-order', RequestCompletedEvent.type, t(5), { output: { a: 2 }, workflow: null }),
      position(),
    );
    await store.record(
      event('acme', 'r-order', RequestFailedEvent.type, t(4), {
        code: 'c',
        message: 'earlier',
        stage: 'generator',
      }),
      position(),
    );
    expect(await expectSameAsTrail('acme', 'r-order')).toMatchObject({ status: 'failed' });
    // Only events before routing: accepted, then a review without a reason.
    await store.record(event('acme', 'r-review', ReviewRequestedEvent.type, t(3), { context }), position());
    await store.record(event('acme', 'r-review', RequestSubmittedEvent.type, t(0)), position());
    expect(await expectSameAsTrail('acme', 'r-review')).toMatchObject({ status: 'review' });
  });

  it('reads from the trail a request with rows from before, a sanitised row or a field it does not reproduce', async () => {
    await store.record(
      event('acme', 'r-nul', RequestSubmittedEvent.type, '2026-03-01T10:00:00Z'),
      position(),
    );
    await store.record(
      event('acme', 'r-nul', RequestRoutedEvent.type, '2026-03-01T10:00:01Z', {
        context,
        note: 'nul \u0000 here',
      }),
      position(),
    );
    expect(await expectSameAsTrail('acme', 'r-nul', false)).toMatchObject({ status: 'routed' });

    await store.record(
      event('acme', 'r-odd', RequestSubmittedEvent.type, '2026-03-01T10:00:00Z'),
      position(),
    );
    await store.record(
      event('acme', 'r-odd', RequestCompletedEvent.type, '2026-03-01T10:00:01Z', { acceptedBy: 7 }),
      position(),
    );
    expect(await expectSameAsTrail('acme', 'r-odd', false)).toMatchObject({ acceptedBy: '7' });
    // Unknown requests are read from the trail too.
    expect(await expectSameAsTrail('acme', 'r-unknown', false)).toBeUndefined();
    expect(await expectSameAsTrail('globex', 'r-full', false)).toBeUndefined();
  });

  it('follows no request recorded before the store was opened, and every one first recorded since', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'llmbus-statuses-'));
    try {
      const first = await PgliteAuditStore.open({ dataDir });
      await first.record(
        event('acme', 'r-old', RequestSubmittedEvent.type, '2026-03-01T10:00:00Z'),
        position(),
      );
      await first.close();
      const reopened = await PgliteAuditStore.open({ dataDir });
      try {
        const trail = jest.spyOn(reopened, 'requestStatusFromTrail');
        await reopened.record(
          event('acme', 'r-old', RequestRoutedEvent.type, '2026-03-01T10:00:01Z', { context }),
          position(),
        );
        await reopened.record(
          event('acme', 'r-new', RequestSubmittedEvent.type, '2026-03-01T10:00:02Z'),
          position(),
        );
        expect(await reopened.requestStatus('acme', 'r-old')).toEqual({
          requestId: 'r-old',
          status: 'routed',
          updatedAt: '2026-03-01T10:00:01.000Z',
          workflow: WORKFLOW,
        });
        expect(trail).toHaveBeenCalledTimes(1);
        expect(await reopened.requestStatus('acme', 'r-new')).toMatchObject({ status: 'accepted' });
        expect(trail).toHaveBeenCalledTimes(1);
        // Both asked about before their transaction; the answers as the trail read gives them.
        expect(await reopened.requestStatus('acme', 'r-new')).toStrictEqual(
          await reopened.requestStatusFromTrail('acme', 'r-new'),
        );
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('finds a recorded routing as the trail read does, and none before it is recorded', async () => {
    const submitted = event('acme', 'r-routing', RequestSubmittedEvent.type, '2026-03-01T10:00:00Z');
    expect(await store.routingOf('acme', 'r-routing', submitted.id)).toBeUndefined();
    await store.record(submitted, position());
    expect(await store.routingOf('acme', 'r-routing', submitted.id)).toBeUndefined();
    const routed = {
      ...event('acme', 'r-routing', RequestRoutedEvent.type, '2026-03-01T10:00:01Z', {
        context,
        submissionDigest: 'sha256:abc',
      }),
      causationid: submitted.id,
    };
    await store.record(routed, position());
    expect(await store.routingOf('acme', 'r-routing', 'another-event')).toEqual({
      eventId: submitted.id,
      submissionDigest: 'sha256:abc',
    });
    expect(await store.routingOf('acme', 'r-routing', submitted.id)).toBeUndefined();
  });

  it('reads statuses from the trail while payloads are removed, and follows none of the requests recorded before', async () => {
    await store.record(
      event('acme', 'r-kept', RequestSubmittedEvent.type, '2026-03-01T10:00:00Z'),
      position(),
    );
    fromTrail.mockClear();
    await store.requestStatus('acme', 'r-kept');
    expect(fromTrail).toHaveBeenCalledTimes(0);
    await store.removeExpiredPayloads(DEFAULT_RETENTION_POLICY, { now: new Date('2026-03-02T00:00:00Z') });
    await expectSameAsTrail('acme', 'r-kept', false);
  });
});

describe('RecordedStatuses', () => {
  const row = (correlationId: string, type: string, payload: object = {}): AuditInsertRow =>
    ({
      eventId: `${correlationId}-${type}`,
      tenantId: 'acme',
      correlationId,
      type,
      source: '/test',
      payload: JSON.stringify(payload),
      sanitisedReason: null,
    }) as AuditInsertRow;
  const link = (seq: number) => ({ seq: BigInt(seq), eventTime: `2026-03-01T10:00:0${seq % 10}.000000Z` });

  it('on a trail empty when opened, follows each request from its first row without asking the trail', () => {
    const statuses = new RecordedStatuses();
    statuses.trailEmptyAtStart();
    const submitted = row('r-1', RequestSubmittedEvent.type);
    expect(statuses.unsettledRequests([submitted])).toEqual([]);
    statuses.committed(submitted, link(1));
    expect(statuses.view('acme', 'r-1')).toMatchObject({
      status: 'accepted',
      updatedAt: '2026-03-01T10:00:01.000Z',
    });
  });

  it('never follows again a request evicted from the bounded map, even from a row of the same transaction', () => {
    const statuses = new RecordedStatuses(1);
    statuses.trailEmptyAtStart();
    statuses.committed(row('r-1', RequestSubmittedEvent.type), link(1));
    expect(statuses.view('acme', 'r-1')).toMatchObject({ status: 'accepted' });
    statuses.committed(row('r-2', RequestSubmittedEvent.type), link(2));
    expect(statuses.view('acme', 'r-1')).toBeUndefined();
    statuses.committed(row('r-1', RequestRoutedEvent.type, { context }), link(3));
    expect(statuses.view('acme', 'r-1')).toBeUndefined();
    expect(statuses.view('acme', 'r-2')).toMatchObject({ status: 'accepted' });
    // The dropped request evicted in turn: new requests are to be asked about from now on.
    statuses.committed(row('r-3', RequestSubmittedEvent.type), link(4));
    statuses.forget({ tenantId: 'acme', correlationId: 'r-4' });
    expect(statuses.unsettledRequests([row('r-1', RequestRoutedEvent.type)])).toEqual(['r-1']);
  });

  it('on a trail with rows, follows only the requests the trail did not hold, and none while suspended', () => {
    const statuses = new RecordedStatuses();
    const seen = row('r-seen', RequestRoutedEvent.type, { context });
    const fresh = row('r-fresh', RequestSubmittedEvent.type);
    expect(statuses.recordsNoRouting('acme', 'r-fresh')).toBe(false);
    expect(statuses.unsettledRequests([seen, fresh, seen])).toEqual(['r-seen', 'r-fresh']);
    statuses.committed(seen, link(1), new Set(['r-seen']));
    statuses.committed(fresh, link(2), new Set(['r-seen']));
    expect(statuses.view('acme', 'r-seen')).toBeUndefined();
    expect(statuses.view('acme', 'r-fresh')).toMatchObject({ status: 'accepted' });
    // Not asked about: not followed.
    statuses.committed(row('r-unasked', RequestSubmittedEvent.type), link(3));
    expect(statuses.view('acme', 'r-unasked')).toBeUndefined();
    const resume = statuses.suspend();
    expect(statuses.view('acme', 'r-fresh')).toBeUndefined();
    statuses.committed(row('r-new', RequestSubmittedEvent.type), link(4), new Set());
    expect(statuses.view('acme', 'r-new')).toBeUndefined();
    resume();
    statuses.committed(row('r-next', RequestSubmittedEvent.type), link(5), new Set());
    expect(statuses.view('acme', 'r-next')).toMatchObject({ status: 'accepted' });
  });
});
