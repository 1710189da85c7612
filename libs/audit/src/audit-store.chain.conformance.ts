import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  RequestCompletedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import { GENESIS_HASH } from './audit-chain';
import type { BusPosition } from './audit-store';
import type { SqlAuditStore } from './sql-audit-store';

/** What the chain suite needs from an adapter under test. */
export interface ChainFixture {
  readonly store: SqlAuditStore;
  /** A second store on the same database (another auditor replica), or the same store when there is one connection. */
  readonly peer: SqlAuditStore;
  /** Runs statements in one transaction on the store's database, bypassing the store. */
  rawTransaction(
    statements: readonly (readonly [string, (readonly unknown[] | undefined)?])[],
  ): Promise<void>;
  close(): Promise<void>;
  /** The store lets one turn of the event loop pass before a tenant's first batch too (SqlAuditStore.gathersFirstBatch). */
  readonly gathersFirstBatch?: boolean;
}

const run = randomUUID().slice(0, 8);
let tenants = 0;
const newTenant = () => `chain${++tenants}-${run}`;
let offsets = 0;
const position = (): BusPosition => ({
  topic: 'orchestration.request.v1',
  partition: 1,
  offset: String(++offsets),
});

function event(
  tenantid: string,
  requestId: string,
  type: string,
  data: Record<string, unknown> = {},
  time = new Date().toISOString(),
): EventEnvelope<Record<string, unknown>> {
  return {
    id: randomUUID(),
    source: '/llmbus/generator',
    type,
    specversion: '1.0',
    time,
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, ...data },
  };
}

/** Alters rows as a superuser would: with the append-only triggers switched off around the change. */
const bypassingTriggers = (sql: string, params: readonly unknown[] = []) =>
  [
    ['ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete'],
    [sql, params],
    ['ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete'],
  ] as const;

/** Hash chain and retention behaviour every SQL audit store must have; run it once per adapter. */
export function describeAuditChainConformance(
  name: string,
  open: () => Promise<ChainFixture>,
  timeoutMs = 60_000,
): void {
  describe(`${name} hash chain`, () => {
    let fixture: ChainFixture;
    let store: SqlAuditStore;
    beforeAll(async () => {
      fixture = await open();
      store = fixture.store;
    }, timeoutMs);
    afterAll(async () => {
      await fixture?.close();
    }, timeoutMs);

    /** Records events of one request in order and returns their envelopes. */
    async function recordAll(events: readonly EventEnvelope[]): Promise<void> {
      for (const e of events) expect(await store.record(e, position())).toBe(true);
    }

    it("links each tenant's records from the genesis marker and serves the links with the trail", async () => {
      const [a, b] = [newTenant(), newTenant()];
      await recordAll([
        event(a, 'r1', RequestSubmittedEvent.type, { input: { q: 'one' } }),
        event(b, 'r1', RequestSubmittedEvent.type, { input: { q: 'other tenant' } }),
        event(a, 'r1', ResponseGeneratedEvent.type, { output: { answer: 'two' } }),
        event(a, 'r1', RequestCompletedEvent.type, { output: { answer: 'two' } }),
      ]);
      const trail = await store.trail(a, 'r1');
      const links = trail.map((r) => r.chain);
      expect(links.map((l) => l?.seq)).toEqual([1, 2, 3]);
      expect(links[0]?.prevHash).toBe(GENESIS_HASH);
      expect(links[1]?.prevHash).toBe(links[0]?.hash);
      expect(links[2]?.prevHash).toBe(links[1]?.hash);
      for (const link of links) expect(link?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect((await store.trail(b, 'r1'))[0].chain).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
      const [report] = await store.verifyChains({ tenantId: a });
      expect(report).toMatchObject({ tenantId: a, verified: 3, beforeChain: 0, head: { chainSeq: '3' } });
      expect(report.broken).toBeUndefined();
    });

    it('does not advance the chain for a duplicate event', async () => {
      const tenant = newTenant();
      const first = event(tenant, 'r1', RequestSubmittedEvent.type);
      expect(await store.record(first, position())).toBe(true);
      expect(await store.record(first, position())).toBe(false);
      expect(await store.record(event(tenant, 'r1', RequestCompletedEvent.type), position())).toBe(true);
      expect((await store.trail(tenant, 'r1')).map((r) => r.chain?.seq)).toEqual([1, 2]);
      expect((await store.verifyChains({ tenantId: tenant }))[0]).toMatchObject({ verified: 2 });
    });

    it('hashes what the database stores: rounded cost, time zones, microseconds, awkward numbers and text', async () => {
      const tenant = newTenant();
      const usage = {
        modelId: 'm',
        provider: 'test',
        promptTokens: 12,
        completionTokens: 3,
        costUsd: 0.123456789012345, // numeric(20, 10) keeps 10 decimals
        latencyMs: 1234.5678901234567,
      };
      await recordAll([
        event(
          tenant,
          'r1',
          ResponseGeneratedEvent.type,
          { usage, output: { big: 1e21, tiny: 5e-324, third: 1 / 3 } },
          '2026-03-01T14:00:00.123456+02:00',
        ),
        event(tenant, 'r1', RequestSubmittedEvent.type, {
          input: { 'clé é': 'naïve 😀 \u2028', nested: [{ b: 1, a: [null, true] }] },
        }),
      ]);
      // U+0000 cannot be stored: the store keeps a sanitised copy, which is chained like any record.
      await recordAll([event(tenant, 'r1', RequestSubmittedEvent.type, { input: { bad: 'a\u0000b' } })]);
      const [report] = await store.verifyChains({ tenantId: tenant });
      expect(report).toMatchObject({ verified: 3 });
      expect(report.broken).toBeUndefined();
    });

    it('keeps one unbroken chain when two replicas record for the same tenant at once', async () => {
      const tenant = newTenant();
      const events = Array.from({ length: 40 }, (_, i) =>
        event(tenant, `r${i % 4}`, RequestSubmittedEvent.type, { n: i }),
      );
      const results = await Promise.all(
        events.map((e, i) => (i % 2 === 0 ? store : fixture.peer).record(e, position())),
      );
      expect(results.every(Boolean)).toBe(true);
      const [report] = await store.verifyChains({ tenantId: tenant });
      expect(report).toMatchObject({ verified: 40, head: { chainSeq: '40' } });
      expect(report.broken).toBeUndefined();
      // Read in pages that split the chain (positions 10 and 2 sort apart as text, not as numbers).
      expect(await store.verifyChains({ tenantId: tenant, batchSize: 7 })).toEqual([report]);
    });

    it('writes the events recorded at once in one transaction, each caller told its own outcome', async () => {
      const tenant = newTenant();
      const other = newTenant();
      const before = store.writeStats();
      const fresh = Array.from({ length: 12 }, (_, i) =>
        event(tenant, `b${i % 3}`, RequestSubmittedEvent.type, { n: i }),
      );
      expect(await Promise.all(fresh.map((e) => store.record(e, position())))).toEqual(fresh.map(() => true));
      // The first starts a transaction alone; the eleven recorded meanwhile share the next one
      // (all twelve share one where the store waits a turn before the first batch).
      expect(store.writeStats()).toEqual({
        transactions: before.transactions + (fixture.gathersFirstBatch === true ? 1 : 2),
        rows: before.rows + 12,
        batchesRolledBack: before.batchesRolledBack,
      });

      // A batch holding a redelivered event, the same event twice, a row the database refuses as
      // received and another tenant's rows: rolled back and written one by one, nothing lost.
      const again = event(tenant, 'b0', RequestCompletedEvent.type);
      const refused = event(tenant, 'b1', RequestSubmittedEvent.type, { input: { bad: 'a\u0000b' } });
      const mixed = [
        fresh[3],
        again,
        again,
        refused,
        event(other, 'o1', RequestSubmittedEvent.type),
        event(tenant, 'b2', RequestCompletedEvent.type),
        event(other, 'o1', RequestCompletedEvent.type),
      ];
      const sanitised: string[] = [];
      const results = await Promise.all(
        mixed.map((e) => store.record(e, position(), { onSanitised: (reason) => sanitised.push(reason) })),
      );
      expect(results).toEqual([false, true, false, true, true, true, true]);
      // The first row went alone; the batch of the tenant's others was rolled back.
      expect(store.writeStats().batchesRolledBack).toBe(before.batchesRolledBack + 1);
      expect(sanitised).toHaveLength(1);
      const [report] = await store.verifyChains({ tenantId: tenant });
      expect(report).toMatchObject({ verified: 15, head: { chainSeq: '15' } });
      expect(report.broken).toBeUndefined();
      expect((await store.verifyChains({ tenantId: other }))[0]).toMatchObject({ verified: 2 });
      expect((await store.trail(tenant, 'b0')).map((r) => r.envelope.id)).toContain(again.id);
    });

    describe('names the first broken record', () => {
      async function chainOf(count: number): Promise<{ tenant: string; events: EventEnvelope[] }> {
        const tenant = newTenant();
        const events = Array.from({ length: count }, (_, i) =>
          event(tenant, 'r1', RequestSubmittedEvent.type, { n: i }),
        );
        await recordAll(events);
        return { tenant, events };
      }

      it('when a payload was altered', async () => {
        const { tenant, events } = await chainOf(4);
        await fixture.rawTransaction(
          bypassingTriggers(
            `UPDATE audit_events SET payload = '{"requestId": "r1", "n": 99}' WHERE tenant_id = $1 AND chain_seq = 2`,
            [tenant],
          ),
        );
        const [report] = await store.verifyChains({ tenantId: tenant });
        expect(report.verified).toBe(1);
        expect(report.broken).toMatchObject({ tenantId: tenant, chainSeq: '2', eventId: events[1].id });
        expect(report.broken?.problem).toMatch(/payload differs from its recorded digest/);
      });

      it('when a column was altered', async () => {
        const { tenant, events } = await chainOf(4);
        await fixture.rawTransaction(
          bypassingTriggers(
            `UPDATE audit_events SET event_time = event_time + interval '1 second' WHERE tenant_id = $1 AND chain_seq = 3`,
            [tenant],
          ),
        );
        const [report] = await store.verifyChains({ tenantId: tenant });
        expect(report.broken).toMatchObject({ chainSeq: '3', eventId: events[2].id });
        expect(report.broken?.problem).toMatch(/record hash recomputed from the stored columns/);
      });

      it('when a record was deleted', async () => {
        const { tenant, events } = await chainOf(4);
        await fixture.rawTransaction(
          bypassingTriggers('DELETE FROM audit_events WHERE tenant_id = $1 AND chain_seq = 2', [tenant]),
        );
        const [report] = await store.verifyChains({ tenantId: tenant });
        expect(report.broken).toMatchObject({ chainSeq: '3', eventId: events[2].id });
        expect(report.broken?.problem).toMatch(/#2\.\.#2 are missing/);
      });

      it('when a record and its hash were rewritten: the next link no longer matches', async () => {
        const { tenant, events } = await chainOf(3);
        await fixture.rawTransaction(
          bypassingTriggers(
            `UPDATE audit_events SET record_hash = repeat('a', 64), payload = '{"requestId": "r1", "n": 7}',
               payload_digest = repeat('b', 64) WHERE tenant_id = $1 AND chain_seq = 2`,
            [tenant],
          ),
        );
        const [report] = await store.verifyChains({ tenantId: tenant });
        expect(report.broken).toMatchObject({ chainSeq: '2', eventId: events[1].id });
      });
    });

    describe('retention', () => {
      const later = (days: number) => new Date(Date.now() + days * 86_400_000);

      it('replaces expired payloads by tombstones keeping their digest, records the run, and verification stays green', async () => {
        const tenant = newTenant();
        await recordAll([
          event(tenant, 'r1', RequestSubmittedEvent.type, { input: { secret: 'prompt text' } }),
          event(tenant, 'r1', RequestCompletedEvent.type, { output: { answer: 'kept' } }),
        ]);
        const before = await store.trail(tenant, 'r1');
        const policy = { default: {}, tenants: { [tenant]: { prompts: 90, outcomes: 2557 } } };
        const now = later(91);

        const dry = await store.removeExpiredPayloads(policy, { now, dryRun: true });
        expect(dry).toMatchObject({ dryRun: true, total: 1, removed: { [tenant]: { prompts: 1 } } });
        expect((await store.trail(tenant, 'r1'))[0].envelope.data).toEqual(before[0].envelope.data);

        const done = await store.removeExpiredPayloads(policy, { now });
        expect(done).toMatchObject({ dryRun: false, total: 1, refused: [] });
        const after = await store.trail(tenant, 'r1');
        expect(after[0].envelope.data).toEqual({
          removedPayload: {
            digest: before[0].chain?.payloadDigest,
            class: 'prompts',
            runId: done.runId,
            removedAt: now.toISOString(),
            days: 90,
          },
        });
        expect(after[0].payloadRemovedAt).toBeDefined();
        expect(after[0].chain).toEqual(before[0].chain);
        expect(after[1].envelope.data).toEqual(before[1].envelope.data);
        const [report] = await store.verifyChains({ tenantId: tenant });
        expect(report).toMatchObject({ verified: 2, payloadsRemoved: 1 });
        expect(report.broken).toBeUndefined();
        // A second run finds nothing left to remove.
        expect((await store.removeExpiredPayloads(policy, { now })).total).toBe(0);
      });

      it('leaves an altered payload in place and reports it rather than destroying the evidence', async () => {
        const tenant = newTenant();
        const submitted = event(tenant, 'r1', RequestSubmittedEvent.type, { input: { q: 'x' } });
        await recordAll([submitted]);
        await fixture.rawTransaction(
          bypassingTriggers(`UPDATE audit_events SET payload = '{"forged": true}' WHERE tenant_id = $1`, [
            tenant,
          ]),
        );
        const report = await store.removeExpiredPayloads(
          { default: {}, tenants: { [tenant]: { prompts: 1 } } },
          { now: later(2) },
        );
        expect(report.total).toBe(0);
        expect(report.refused).toEqual([
          expect.objectContaining({ tenantId: tenant, eventId: submitted.id, chainSeq: '1' }),
        ]);
      });

      it('lets the database refuse any other change, even in a transaction that enabled retention', async () => {
        const tenant = newTenant();
        await recordAll([event(tenant, 'r1', RequestSubmittedEvent.type)]);
        const enable = [`SELECT set_config('llmbus.audit_retention', 'on', true)`] as const;
        await expect(
          fixture.rawTransaction([
            enable,
            ['UPDATE audit_events SET correlation_id = $2 WHERE tenant_id = $1', [tenant, 'r2']],
          ]),
        ).rejects.toThrow(/append-only/);
        await expect(
          fixture.rawTransaction([
            enable,
            [
              `UPDATE audit_events SET payload = '{"removedPayload": {"digest": "forged"}}', payload_removed_at = now() WHERE tenant_id = $1`,
              [tenant],
            ],
          ]),
        ).rejects.toThrow(/append-only/);
        await expect(
          fixture.rawTransaction([
            ['UPDATE audit_events SET payload_removed_at = now() WHERE tenant_id = $1', [tenant]],
          ]),
        ).rejects.toThrow(/append-only/);
        expect((await store.verifyChains({ tenantId: tenant }))[0].broken).toBeUndefined();
      });
    });
  });
}
