import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ContextRetrievedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import { AuditQueryError, type AuditStore, type BusPosition } from './audit-store';
import { MIGRATIONS } from './migrations';

/** What the conformance suite needs from an adapter under test. */
export interface AuditStoreFixture {
  readonly store: AuditStore & { migrate(): Promise<string[]> };
  /** Runs one statement on the store's database directly, bypassing the store. */
  raw(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
  close(): Promise<void>;
}

const run = randomUUID().slice(0, 8);
let tenants = 0;
/** A tenant of its own per test, so tests share one database without seeing each other. */
const newTenant = () => `t${++tenants}-${run}`;

let offsets = 0;
const position = (topic = 'orchestration.request.v1'): BusPosition => ({
  topic,
  partition: 2,
  offset: String(++offsets),
});

const usage = (
  modelId: string,
  promptTokens: number,
  completionTokens: number,
  costUsd: number,
  latencyMs: number,
) => ({
  modelId,
  provider: 'test',
  promptTokens,
  completionTokens,
  costUsd,
  latencyMs,
});

function event(
  tenantid: string,
  requestId: string,
  type: string,
  time: string,
  data: Record<string, unknown> = {},
  source = '/llmbus/router',
): EventEnvelope<Record<string, unknown>> {
  return {
    id: randomUUID(),
    source,
    type,
    specversion: '1.0',
    time,
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, ...data },
  };
}

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, second)).toISOString();

/** The behaviour every AuditStore adapter must have; run it once per adapter. */
export function describeAuditStoreConformance(
  name: string,
  open: () => Promise<AuditStoreFixture>,
  timeoutMs = 60_000,
): void {
  describe(`${name} conformance`, () => {
    let fixture: AuditStoreFixture;
    let store: AuditStore & { migrate(): Promise<string[]> };
    beforeAll(async () => {
      fixture = await open();
      store = fixture.store;
    }, timeoutMs);
    afterAll(async () => {
      await fixture?.close();
    }, timeoutMs);

    it('records its migrations once; migrating an up-to-date database applies nothing', async () => {
      expect(await store.migrate()).toEqual([]);
      const { rows } = await fixture.raw('SELECT id FROM audit_schema_migrations ORDER BY id');
      expect(rows.map((r) => r['id'])).toEqual(MIGRATIONS.map((m) => m.id));
    });

    it('records an event once: the same event id again reports a duplicate and stores nothing', async () => {
      const tenant = newTenant();
      const input: EventEnvelope<Record<string, unknown>> = {
        ...event(tenant, 'r1', RequestSubmittedEvent.type, '2026-01-01T12:00:00.123Z', {
          input: { subject: 'hi' },
        }),
        subject: 'ticket-9',
        traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01',
        attempt: 1,
      };
      const where = { topic: 'orchestration.request.v1', partition: 3, offset: '9007199254740993' };
      expect(await store.record(input, where)).toBe(true);
      expect(await store.record(input, { ...where, offset: '9007199254740994' })).toBe(false);
      const trail = await store.trail(tenant, 'r1');
      expect(trail).toHaveLength(1);
      expect(trail[0].envelope).toEqual(input);
      expect(trail[0].position).toEqual(where);
      expect(Number.isNaN(Date.parse(trail[0].recordedAt))).toBe(false);
    });

    it('identifies an event by tenant, source and id: the same id from another source or tenant is recorded too', async () => {
      const a = newTenant();
      const b = newTenant();
      const id = randomUUID();
      const fromA = { ...event(a, 'r1', RequestSubmittedEvent.type, at(0), {}, '/upstream/one'), id };
      const fromAOther = { ...event(a, 'r2', RequestSubmittedEvent.type, at(0), {}, '/upstream/two'), id };
      const fromB = { ...event(b, 'r1', RequestSubmittedEvent.type, at(0), {}, '/upstream/one'), id };
      for (const e of [fromA, fromAOther, fromB]) expect(await store.record(e, position())).toBe(true);
      for (const e of [fromA, fromAOther, fromB]) expect(await store.record(e, position())).toBe(false);
      expect((await store.trail(a, 'r1')).map((r) => r.envelope)).toEqual([fromA]);
      expect((await store.trail(a, 'r2')).map((r) => r.envelope)).toEqual([fromAOther]);
      expect((await store.trail(b, 'r1')).map((r) => r.envelope)).toEqual([fromB]);
      expect((await store.listRequests(a, 10)).requests.map((r) => [r.requestId, r.events])).toEqual([
        ['r2', 1],
        ['r1', 1],
      ]);
      const { rows } = await fixture.raw(
        `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
         WHERE conrelid = 'audit_events'::regclass AND contype IN ('p', 'u') ORDER BY conname`,
      );
      expect(rows).toEqual(
        expect.arrayContaining([
          { conname: 'audit_events_identity', def: 'UNIQUE (tenant_id, source, event_id)' },
          { conname: 'audit_events_pkey', def: 'PRIMARY KEY (seq)' },
        ]),
      );
    });

    it("keeps two tenants' reviews apart when their review events share an id and a request id", async () => {
      const a = newTenant();
      const b = newTenant();
      const id = randomUUID();
      for (const tenant of [a, b]) {
        await store.record(event(tenant, 'shared', RequestSubmittedEvent.type, at(0)), position());
        const review = event(
          tenant,
          'shared',
          ReviewRequestedEvent.type,
          at(1),
          { reason: tenant },
          '/llmbus/validator',
        );
        expect(await store.record({ ...review, id }, position('orchestration.review.v1'))).toBe(true);
      }
      await store.record(
        event(a, 'shared', ReviewDecidedEvent.type, at(2), {}, '/llmbus/auditor'),
        position(),
      );
      expect(await store.reviewState(a, 'shared')).toEqual({
        status: 'resolved',
        resolvedBy: ReviewDecidedEvent.type,
      });
      expect(await store.reviewState(b, 'shared')).toMatchObject({
        status: 'pending',
        review: { envelope: { id, tenantid: b, data: { reason: b } } },
      });
      expect(await store.reviewQueue(a)).toEqual([]);
      expect((await store.reviewQueue(b)).map((q) => [q.requestId, q.review.envelope.tenantid])).toEqual([
        ['shared', b],
      ]);
    });

    it('rejects UPDATE, DELETE and TRUNCATE of recorded events in the database itself', async () => {
      const tenant = newTenant();
      await store.record(event(tenant, 'r1', RequestSubmittedEvent.type, at(0)), position());
      await expect(
        fixture.raw(`UPDATE audit_events SET type = 'forged' WHERE tenant_id = '${tenant}'`),
      ).rejects.toThrow(/append-only/);
      await expect(fixture.raw(`DELETE FROM audit_events WHERE tenant_id = '${tenant}'`)).rejects.toThrow(
        /append-only/,
      );
      await expect(fixture.raw('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
      const trail = await store.trail(tenant, 'r1');
      expect(trail.map((r) => r.envelope.type)).toEqual([RequestSubmittedEvent.type]);
    });

    it("never shows one tenant's events to another tenant", async () => {
      const a = newTenant();
      const b = newTenant();
      await store.record(event(a, 'shared-id', RequestSubmittedEvent.type, at(0)), position());
      await store.record(
        event(
          a,
          'shared-id',
          ResponseGeneratedEvent.type,
          at(1),
          { usage: usage('m', 1, 1, 0.5, 10) },
          '/llmbus/generator',
        ),
        position(),
      );
      await store.record(event(a, 'shared-id', ReviewRequestedEvent.type, at(2)), position());
      expect(await store.trail(a, 'shared-id')).toHaveLength(3);
      expect(await store.trail(b, 'shared-id')).toEqual([]);
      expect(await store.listRequests(b, 10)).toEqual({ requests: [] });
      expect(await store.costByStep(b)).toEqual([]);
      expect(await store.reviewQueue(b)).toEqual([]);
      expect(await store.reviewState(b, 'shared-id')).toEqual({ status: 'unknown_request' });
      await expect(store.trail('', 'shared-id')).rejects.toBeInstanceOf(AuditQueryError);
    });

    it('orders a trail by event time, then by recording order for equal times', async () => {
      const tenant = newTenant();
      const late = event(tenant, 'r1', RequestCompletedEvent.type, at(3));
      const first = event(tenant, 'r1', RequestSubmittedEvent.type, at(0));
      const sameTimeA = event(tenant, 'r1', RequestRoutedEvent.type, at(1));
      const sameTimeB = event(tenant, 'r1', ContextRetrievedEvent.type, at(1));
      for (const e of [late, first, sameTimeB, sameTimeA]) await store.record(e, position());
      await store.record(event(tenant, 'other', RequestSubmittedEvent.type, at(2)), position());
      const ids = (await store.trail(tenant, 'r1')).map((r) => r.envelope.id);
      expect(ids).toEqual([first.id, sameTimeB.id, sameTimeA.id, late.id]);
    });

    it('sums tokens, cost and latency by step and model, without counting restated usage twice', async () => {
      const tenant = newTenant();
      const generated = (s: number, model: string, p: number, c: number, cost: number, ms: number) =>
        event(
          tenant,
          `r${s}`,
          ResponseGeneratedEvent.type,
          at(s),
          { usage: usage(model, p, c, cost, ms) },
          '/llmbus/generator',
        );
      await store.record(generated(1, 'small', 100, 20, 0.001, 200), position());
      await store.record(generated(2, 'small', 50, 10, 0.0005, 400), position());
      await store.record(generated(3, 'large', 1000, 200, 0.25, 3000), position());
      await store.record(
        event(
          tenant,
          'r1',
          ContextRetrievedEvent.type,
          at(1),
          { usage: usage('embed', 30, 0, 0, 15) },
          '/llmbus/retriever',
        ),
        position(),
      );
      // Restates r3's generation usage; billing it again would double the cost.
      await store.record(
        event(
          tenant,
          'r3',
          RequestCompletedEvent.type,
          at(4),
          { usage: usage('large', 1000, 200, 0.25, 3000) },
          '/llmbus/validator',
        ),
        position(),
      );
      await store.record(event(tenant, 'r1', RequestSubmittedEvent.type, at(0)), position());

      const costs = await store.costByStep(tenant);
      expect(costs).toEqual([
        {
          type: ContextRetrievedEvent.type,
          stage: 'retriever',
          modelId: 'embed',
          events: 1,
          promptTokens: 30,
          completionTokens: 0,
          costUsd: 0,
          avgLatencyMs: 15,
          maxLatencyMs: 15,
        },
        {
          type: ResponseGeneratedEvent.type,
          stage: 'generator',
          modelId: 'large',
          events: 1,
          promptTokens: 1000,
          completionTokens: 200,
          costUsd: 0.25,
          avgLatencyMs: 3000,
          maxLatencyMs: 3000,
        },
        {
          type: ResponseGeneratedEvent.type,
          stage: 'generator',
          modelId: 'small',
          events: 2,
          promptTokens: 150,
          completionTokens: 30,
          costUsd: 0.0015,
          avgLatencyMs: 300,
          maxLatencyMs: 400,
        },
      ]);
      const recent = await store.costByStep(tenant, new Date(at(2)));
      expect(recent.map((c) => [c.modelId, c.events])).toEqual([
        ['large', 1],
        ['small', 1],
      ]);
    });

    it('keeps a request in the review queue until a later decision or final result', async () => {
      const tenant = newTenant();
      for (const r of ['decided', 'completed', 'failed', 'pending', 'again']) {
        await store.record(event(tenant, r, RequestSubmittedEvent.type, at(0)), position());
        await store.record(
          event(tenant, r, ReviewRequestedEvent.type, at(5), { reason: r }, '/llmbus/validator'),
          position('orchestration.review.v1'),
        );
      }
      await store.record(
        event(tenant, 'decided', ReviewDecidedEvent.type, at(6), {}, '/llmbus/auditor'),
        position(),
      );
      await store.record(event(tenant, 'completed', RequestCompletedEvent.type, at(7)), position());
      await store.record(event(tenant, 'failed', RequestFailedEvent.type, at(7)), position());
      // Decided once, then escalated again: the second review is open.
      await store.record(
        event(tenant, 'again', ReviewDecidedEvent.type, at(6), {}, '/llmbus/auditor'),
        position(),
      );
      const second = event(
        tenant,
        'again',
        ReviewRequestedEvent.type,
        at(9),
        { reason: 'second' },
        '/llmbus/validator',
      );
      await store.record(second, position('orchestration.review.v1'));
      await store.record(event(tenant, 'no-review', RequestSubmittedEvent.type, at(0)), position());

      const queue = await store.reviewQueue(tenant);
      expect(queue.map((q) => q.requestId)).toEqual(['pending', 'again']);
      expect(queue[1].review.envelope.id).toBe(second.id);
      expect(queue[1].review.position.topic).toBe('orchestration.review.v1');

      expect(await store.reviewState(tenant, 'pending')).toMatchObject({ status: 'pending' });
      expect(await store.reviewState(tenant, 'again')).toMatchObject({
        status: 'pending',
        review: { envelope: { id: second.id } },
      });
      expect(await store.reviewState(tenant, 'decided')).toEqual({
        status: 'resolved',
        resolvedBy: ReviewDecidedEvent.type,
      });
      expect(await store.reviewState(tenant, 'completed')).toEqual({
        status: 'resolved',
        resolvedBy: RequestCompletedEvent.type,
      });
      expect(await store.reviewState(tenant, 'no-review')).toEqual({ status: 'not_requested' });
      expect(await store.reviewState(tenant, 'nope')).toEqual({ status: 'unknown_request' });
    });

    it('pages requests newest first with an opaque cursor, each with its status', async () => {
      const tenant = newTenant();
      await store.record(event(tenant, 'a', RequestSubmittedEvent.type, at(0)), position());
      await store.record(event(tenant, 'a', RequestCompletedEvent.type, at(3)), position());
      await store.record(event(tenant, 'b', RequestSubmittedEvent.type, at(1)), position());
      await store.record(event(tenant, 'b', ReviewRequestedEvent.type, at(2)), position());
      await store.record(event(tenant, 'c', RequestSubmittedEvent.type, at(2)), position());
      await store.record(event(tenant, 'c', RequestFailedEvent.type, at(4)), position());
      await store.record(event(tenant, 'd', RequestSubmittedEvent.type, at(5)), position());

      const first = await store.listRequests(tenant, 3);
      expect(first.requests.map((r) => [r.requestId, r.status])).toEqual([
        ['d', 'in_progress'],
        ['c', 'failed'],
        ['b', 'awaiting_review'],
      ]);
      expect(first.requests[1]).toMatchObject({
        events: 2,
        lastEventType: RequestFailedEvent.type,
        firstEventAt: at(2),
        lastEventAt: at(4),
      });
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await store.listRequests(tenant, 3, first.nextCursor);
      expect(second).toEqual({
        requests: [expect.objectContaining({ requestId: 'a', status: 'completed' })],
      });
      await expect(store.listRequests(tenant, 3, 'not-a-cursor')).rejects.toMatchObject({
        code: 'invalid_cursor',
      });
      await expect(store.listRequests(tenant, 0)).rejects.toMatchObject({ code: 'invalid_limit' });
    });
  });
}
