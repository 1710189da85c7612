import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ContextRetrievedEvent,
  DeadLetteredEvent,
  DocumentFailedEvent,
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  ModelCallRecordedEvent,
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
import { REQUEST_STATUS_SQL, requestStatusParams } from './request-status';

/** What the conformance suite needs from an adapter under test. */
export interface AuditStoreFixture {
  readonly store: AuditStore & { migrate(): Promise<string[]> };
  /** Runs one statement on the store's database directly, bypassing the store. */
  raw(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
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

const WORKFLOW = { id: 'support-ticket', version: 2 };
const context = { workflow: WORKFLOW, modelTier: 'small' };

/** A plan node of EXPLAIN (FORMAT JSON), as far as these tests read it. */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Index Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

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

    it("lists a tenant's dead letters newest first and finds an event by id, never another tenant's", async () => {
      const a = newTenant();
      const b = newTenant();
      const letter = (second: number) =>
        event(
          a,
          `dl-${second}`,
          DeadLetteredEvent.type,
          at(second),
          { reason: `r${second}` },
          '/llmbus/validator',
        );
      const [older, newer] = [letter(1), letter(2)];
      await store.record(older, position('orchestration.validator.dlq.v1'));
      await store.record(newer, position('orchestration.validator.dlq.v1'));
      await store.record(event(a, 'dl-other', RequestSubmittedEvent.type, at(3)), position());
      expect((await store.deadLetters(a, 10)).map((r) => r.envelope.id)).toEqual([newer.id, older.id]);
      expect((await store.deadLetters(a, 1)).map((r) => r.envelope.id)).toEqual([newer.id]);
      expect(await store.deadLetters(b, 10)).toEqual([]);
      await expect(store.deadLetters(a, 0)).rejects.toBeInstanceOf(AuditQueryError);
      expect((await store.eventById(a, older.id))?.envelope.data).toMatchObject({ reason: 'r1' });
      expect(await store.eventById(b, older.id)).toBeUndefined();
      expect(await store.eventById(a, randomUUID())).toBeUndefined();
    });

    it("finds a request's routing caused by another event, with its digest, never another tenant's", async () => {
      const a = newTenant();
      const b = newTenant();
      const submitted = event(a, 'rt-1', RequestSubmittedEvent.type, at(1));
      const routed = {
        ...event(a, 'rt-1', RequestRoutedEvent.type, at(2), { submissionDigest: 'd'.repeat(64) }),
        causationid: submitted.id,
      };
      await store.record(submitted, position());
      await store.record(routed, position('orchestration.routed.v1'));
      // A routing recorded without a digest, and one with no causation id (its own id stands in).
      const old = event(a, 'rt-2', RequestRoutedEvent.type, at(3));
      await store.record(old, position('orchestration.routed.v1'));

      expect(await store.routingOf(a, 'rt-1', randomUUID())).toEqual({
        eventId: submitted.id,
        submissionDigest: 'd'.repeat(64),
      });
      // The routing of the very event asked about (a redelivery keeps its id) is not an earlier one.
      expect(await store.routingOf(a, 'rt-1', submitted.id)).toBeUndefined();
      expect(await store.routingOf(a, 'rt-2', randomUUID())).toEqual({ eventId: old.id });
      expect(await store.routingOf(b, 'rt-1', randomUUID())).toBeUndefined();
      expect(await store.routingOf(a, 'rt-unknown', randomUUID())).toBeUndefined();
      expect(await store.routingOf(a, 'rt\u0000', randomUUID())).toBeUndefined();
    });

    it("accounts a request's calls by stage and model, and the tenant's usage by workflow, outcome and window", async () => {
      const tenant = newTenant();
      const call = (requestId: string, s: number, model: string, p: number, cost: number, ms: number) =>
        event(
          tenant,
          requestId,
          ModelCallRecordedEvent.type,
          at(s),
          { callId: randomUUID(), stage: 'generator', attempt: 1, usage: usage(model, p, 5, cost, ms) },
          '/llmbus/generator',
        );
      const trail = [
        event(tenant, 'ok', RequestRoutedEvent.type, at(0), { context }),
        call('ok', 1, 'small', 100, 0.001, 200),
        call('ok', 2, 'small', 50, 0.002, 400),
        // Restates the second call (names its callId): never counted again.
        event(
          tenant,
          'ok',
          ResponseGeneratedEvent.type,
          at(2),
          { context, callId: randomUUID(), usage: usage('small', 50, 5, 0.002, 400) },
          '/llmbus/generator',
        ),
        event(tenant, 'ok', RequestCompletedEvent.type, at(3), {
          workflow: WORKFLOW,
          acceptedBy: 'validator',
          usage: usage('small', 50, 5, 0.002, 400),
        }),
        event(tenant, 'bad', RequestRoutedEvent.type, at(10), { context }),
        call('bad', 11, 'large', 1000, 0.5, 3000),
        event(tenant, 'bad', RequestFailedEvent.type, at(12), { code: 'model_error' }, '/llmbus/generator'),
        event(tenant, 'open', RequestRoutedEvent.type, at(20), { context }),
        call('open', 21, 'small', 10, 0.0001, 50),
      ];
      for (const e of trail) await store.record(e, position());
      // A call recorded after the outcome (another topic, read later) still counts for the request.
      await store.record(call('ok', 1, 'small', 999, 9, 9), position());

      const cost = await store.requestCost(tenant, 'ok');
      expect(cost).toMatchObject({
        requestId: 'ok',
        workflow: WORKFLOW,
        outcome: 'completed',
        firstEventAt: at(0),
        lastEventAt: at(3),
        durationMs: 3000,
        totals: { calls: 3, promptTokens: 1149, completionTokens: 15, latencyMs: 609, maxLatencyMs: 400 },
        steps: [{ stage: 'generator', modelId: 'small', calls: 3 }],
      });
      expect(cost?.totals.costUsd).toBeCloseTo(9.003, 10);
      expect(await store.requestCost(tenant, 'nobody')).toBeUndefined();
      expect(await store.requestCost(newTenant(), 'ok')).toBeUndefined();
      expect((await store.requestCost(tenant, 'open'))?.outcome).toBe('in_progress');

      // Ordered by (bucket,) workflow, version, stage, model and outcome.
      const rows = await store.usage(tenant, {});
      expect(rows.map((r) => [r.outcome, r.modelId, r.requests, r.calls, r.promptTokens])).toEqual([
        ['failed', 'large', 1, 1, 1000],
        ['completed', 'small', 1, 3, 1149],
        ['in_progress', 'small', 1, 1, 10],
      ]);
      expect(rows[0]).toMatchObject({ workflowId: 'support-ticket', workflowVersion: 2, stage: 'generator' });
      const window = await store.usage(tenant, { from: new Date(at(10)), to: new Date(at(21)) });
      expect(window.map((r) => [r.outcome, r.calls])).toEqual([['failed', 1]]);
      const hourly = await store.usage(tenant, { interval: 'hour' });
      expect(new Set(hourly.map((r) => r.bucketStart))).toEqual(new Set(['2026-01-01T12:00:00.000Z']));
      expect(await store.usage(newTenant(), {})).toEqual([]);
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

    it('counts every recorded model call once: a call repeated by a redelivery too, not the output restating it', async () => {
      const tenant = newTenant();
      const calls = [randomUUID(), randomUUID()];
      // One input handled twice (a rebalance redelivered it): two billed calls, one output id.
      const output = event(
        tenant,
        'r1',
        ResponseGeneratedEvent.type,
        at(1),
        { usage: usage('large', 100, 20, 0.01, 900), callId: calls[0] },
        '/llmbus/generator',
      );
      await store.record(output, position('orchestration.generated.v1'));
      await store.record(
        {
          ...output,
          data: { ...output.data, usage: usage('large', 100, 25, 0.012, 1100), callId: calls[1] },
        },
        position('orchestration.generated.v1'),
      );
      for (const [i, callId] of calls.entries()) {
        await store.record(
          {
            ...event(
              tenant,
              'r1',
              ModelCallRecordedEvent.type,
              at(1),
              {
                callId,
                stage: 'generator',
                attempt: 1,
                usage: usage('large', 100, i === 0 ? 20 : 25, i === 0 ? 0.01 : 0.012, i === 0 ? 900 : 1100),
              },
              '/llmbus/generator',
            ),
            id: callId,
          },
          position('orchestration.model-calls.v1'),
        );
      }
      // An output recorded before call records existed still counts.
      await store.record(
        event(
          tenant,
          'r0',
          ResponseGeneratedEvent.type,
          at(0),
          { usage: usage('large', 10, 2, 0.001, 100) },
          '/llmbus/generator',
        ),
        position('orchestration.generated.v1'),
      );
      const costs = await store.costByStep(tenant);
      expect(costs.map((c) => [c.type, c.events, c.completionTokens, Number(c.costUsd.toFixed(6))])).toEqual([
        [ModelCallRecordedEvent.type, 2, 45, 0.022],
        [ResponseGeneratedEvent.type, 1, 2, 0.001],
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

    it('lists open tool approvals past their expiry across tenants, not decided, fresh or output reviews', async () => {
      const tenant = newTenant();
      const approval = (expiresAt: string) => ({
        kind: 'tool-approval',
        toolApproval: { tool: 'restart_service', callId: 'c1', expiresAt },
      });
      const cases: [string, Record<string, unknown>][] = [
        ['expired', approval('2001-01-01T00:00:00.000Z')],
        ['fresh', approval('2999-01-01T00:00:00.000Z')],
        ['decided', approval('2001-01-01T00:00:00.000Z')],
        ['output', { reason: 'low confidence' }],
      ];
      for (const [r, data] of cases) {
        await store.record(
          event(tenant, r, ReviewRequestedEvent.type, at(5), data, '/llmbus/generator'),
          position(),
        );
      }
      await store.record(
        event(tenant, 'decided', ReviewDecidedEvent.type, at(6), {}, '/llmbus/auditor'),
        position(),
      );
      const expired = (await store.expiredToolApprovals(new Date('2026-01-01T00:00:00Z'), 1000)).filter(
        (p) => p.review.envelope.tenantid === tenant,
      );
      expect(expired.map((p) => p.requestId)).toEqual(['expired']);
      expect(expired[0].review.envelope.data).toMatchObject({ kind: 'tool-approval' });
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

    it('lists requests only, not documents indexed in the tenant', async () => {
      const tenant = newTenant();
      // A document's events share its id as correlation id; it is not a request and never ends
      // like one, so listing it would show an "in_progress" request forever.
      await store.record(event(tenant, 'doc-1', DocumentSubmittedEvent.type, at(0)), position());
      await store.record(event(tenant, 'doc-1', DocumentIndexedEvent.type, at(1)), position());
      // A refused document ends in DocumentFailed, which is no failed request either.
      await store.record(event(tenant, 'doc-2', DocumentSubmittedEvent.type, at(1)), position());
      await store.record(event(tenant, 'doc-2', DocumentFailedEvent.type, at(1)), position());
      await store.record(event(tenant, 'r-1', RequestSubmittedEvent.type, at(2)), position());
      const page = await store.listRequests(tenant, 10);
      expect(page.requests.map((r) => [r.requestId, r.status])).toEqual([['r-1', 'in_progress']]);
    });

    describe('requestStatus', () => {
      it('follows a request from accepted to completed, keeping what earlier steps told', async () => {
        const tenant = newTenant();
        const record = (type: string, second: number, data: Record<string, unknown> = {}) =>
          store.record(event(tenant, 'r1', type, at(second), data), position());

        await record(RequestSubmittedEvent.type, 0, { input: { subject: 'hi' } });
        expect(await store.requestStatus(tenant, 'r1')).toEqual({
          requestId: 'r1',
          status: 'accepted',
          updatedAt: at(0),
        });

        await record(RequestRoutedEvent.type, 1, { context });
        await record(ContextRetrievedEvent.type, 2, { context, passages: [] });
        expect(await store.requestStatus(tenant, 'r1')).toEqual({
          requestId: 'r1',
          status: 'routed',
          updatedAt: at(2),
          workflow: WORKFLOW,
        });

        await record(ReviewRequestedEvent.type, 3, { context, reason: 'confidence 0.2 is below 0.5' });
        await record(ReviewDecidedEvent.type, 4, { decision: 'approve' });
        expect(await store.requestStatus(tenant, 'r1')).toEqual({
          requestId: 'r1',
          status: 'review',
          updatedAt: at(4),
          workflow: WORKFLOW,
          reviewReason: 'confidence 0.2 is below 0.5',
        });

        const output = { reply: 'Use the reset link.', category: 'account' };
        await record(RequestCompletedEvent.type, 5, {
          workflow: WORKFLOW,
          output,
          citations: ['kb-1', 'kb-2'],
          attempts: 1,
          acceptedBy: 'reviewer',
        });
        expect(await store.requestStatus(tenant, 'r1')).toEqual({
          requestId: 'r1',
          status: 'completed',
          updatedAt: at(5),
          workflow: WORKFLOW,
          output,
          citations: ['kb-1', 'kb-2'],
          acceptedBy: 'reviewer',
          reviewReason: 'confidence 0.2 is below 0.5',
        });
      });

      it('shows a failure with its code, message, stage and details, and the workflow it was routed to', async () => {
        const tenant = newTenant();
        await store.record(event(tenant, 'r1', RequestSubmittedEvent.type, at(0)), position());
        await store.record(event(tenant, 'r1', RequestRoutedEvent.type, at(1), { context }), position());
        const failure = {
          code: 'budget_exceeded',
          message: 'the call could cost $0.40; the workflow allows $0.10. Raise budget.maxCostUsd.',
          stage: 'generator',
          details: ['worst case 0.40 USD'],
        };
        await store.record(event(tenant, 'r1', RequestFailedEvent.type, at(2), failure), position());
        expect(await store.requestStatus(tenant, 'r1')).toEqual({
          requestId: 'r1',
          status: 'failed',
          updatedAt: at(2),
          workflow: WORKFLOW,
          failure,
        });
      });

      it('ranks events rather than taking the last one recorded: topics are recorded in any order', async () => {
        const tenant = newTenant();
        // The outcome is recorded before the events that led to it.
        await store.record(
          event(tenant, 'late', RequestCompletedEvent.type, at(5), {
            workflow: WORKFLOW,
            output: { reply: 'done' },
            citations: [],
            acceptedBy: 'validator',
          }),
          position(),
        );
        await store.record(event(tenant, 'late', RequestSubmittedEvent.type, at(0)), position());
        await store.record(event(tenant, 'late', RequestRoutedEvent.type, at(1), { context }), position());
        expect(await store.requestStatus(tenant, 'late')).toMatchObject({
          status: 'completed',
          updatedAt: at(5),
          output: { reply: 'done' },
        });
        // Retrieval recorded before routing: the request is routed all the same.
        await store.record(
          event(tenant, 'ahead', ContextRetrievedEvent.type, at(2), { context, passages: [] }),
          position(),
        );
        expect(await store.requestStatus(tenant, 'ahead')).toEqual({
          requestId: 'ahead',
          status: 'routed',
          updatedAt: at(2),
          workflow: WORKFLOW,
        });
        // A second, later outcome (a fault upstream) does not overturn the first.
        const failure = {
          code: 'processing_error',
          message: 'late duplicate',
          stage: 'validator',
          details: [],
        };
        await store.record(event(tenant, 'late', RequestFailedEvent.type, at(9), failure), position());
        expect(await store.requestStatus(tenant, 'late')).toMatchObject({ status: 'completed' });
      });

      it("answers undefined for an unknown request and for another tenant's, and needs a tenant", async () => {
        const owner = newTenant();
        const other = newTenant();
        await store.record(event(owner, 'mine', RequestSubmittedEvent.type, at(0)), position());
        await store.record(event(owner, 'mine', RequestRoutedEvent.type, at(1), { context }), position());
        expect(await store.requestStatus(owner, 'mine')).toMatchObject({ status: 'routed' });
        expect(await store.requestStatus(other, 'mine')).toBeUndefined();
        expect(await store.requestStatus(owner, 'nobody')).toBeUndefined();
        // Events that are not a request's own steps (a document's, say) make no request status.
        await store.record(event(owner, 'doc-1', 'llmbus.document.indexed', at(0)), position());
        expect(await store.requestStatus(owner, 'doc-1')).toBeUndefined();
        await expect(store.requestStatus('', 'mine')).rejects.toBeInstanceOf(AuditQueryError);
      });

      it('reads one request through the trail index, not a scan, in a populated table', async () => {
        const tenant = newTenant();
        // 20,000 events of 2,000 requests, so the planner weighs a real table, then fresh statistics.
        // Their chain columns are placeholders (the database requires them): this test reads plans.
        await fixture.raw(
          `INSERT INTO audit_events (event_id, tenant_id, correlation_id, type, source, spec_version,
             schema_version, topic, topic_partition, topic_offset, event_time, payload,
             chain_seq, prev_hash, record_hash, payload_digest)
           SELECT $1 || '-' || g, $1, 'bulk-' || (g / 10), (ARRAY[$2, $3, $4, $5, $6])[g % 5 + 1], '/llmbus/router',
             '1.0', 1, 'orchestration.request.v1', 0, g, now(), '{}'::jsonb, g, 'bulk', 'bulk', 'bulk'
           FROM generate_series(1, 20000) AS g`,
          [
            tenant,
            RequestSubmittedEvent.type,
            RequestRoutedEvent.type,
            ContextRetrievedEvent.type,
            ResponseGeneratedEvent.type,
            RequestCompletedEvent.type,
          ],
        );
        await fixture.raw('ANALYZE audit_events');
        expect(await store.requestStatus(tenant, 'bulk-7')).toMatchObject({ status: 'completed' });
        const { rows } = await fixture.raw(
          `EXPLAIN (FORMAT JSON) ${REQUEST_STATUS_SQL}`,
          requestStatusParams(tenant, 'bulk-7'),
        );
        const explained = rows[0]['QUERY PLAN'];
        const [plan] = (typeof explained === 'string' ? JSON.parse(explained) : explained) as [
          { Plan: PlanNode },
        ];
        const nodes = planNodes(plan.Plan);
        const onTable = nodes.filter((n) => n['Relation Name'] === 'audit_events');
        expect(onTable.length).toBeGreaterThan(0);
        expect(onTable.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
        expect(nodes.filter((n) => n['Index Name'] !== undefined).map((n) => n['Index Name'])).toEqual([
          'audit_events_trail',
        ]);
      });
    });
  });
}
