import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestSubmittedEvent, type EventEnvelope } from '@llmbus/contracts';
import { MAX_CHAIN_BATCH_ROWS } from './audit-chain';
import type { BusPosition } from './audit-store';
import { AuditDataError } from './record-errors';
import type { SqlAuditStore } from './sql-audit-store';

/** What the group commit suite needs from an adapter under test. */
export interface GroupCommitFixture {
  readonly store: SqlAuditStore;
  /** Runs one statement on the store's database directly, bypassing the store. */
  raw(sql: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  close(): Promise<void>;
}

const run = randomUUID().slice(0, 8);
let tenants = 0;
const newTenant = () => `gc${++tenants}-${run}`;
let offsets = 0;
/** A bus position of its own (the next offset) for each recorded event. */
export const position = (): BusPosition => ({
  topic: 'orchestration.request.v1',
  partition: 0,
  offset: String(++offsets),
});

/** A RequestSubmitted envelope of the tenant's request with a fresh id, `data` merged into its payload. */
export function event(
  tenantid: string,
  requestId: string,
  data: Record<string, unknown> = {},
): EventEnvelope<Record<string, unknown>> {
  return {
    id: randomUUID(),
    source: '/llmbus/test',
    type: RequestSubmittedEvent.type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, ...data },
  };
}

/** A recorder's outcome: told recorded (true), duplicate (false), or rejected. */
export type Outcome =
  { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly error: unknown };

/** A record call's outcome, never rejecting, so a burst can be awaited whole. */
export function settle(promise: Promise<boolean>): Promise<Outcome> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/**
 * The group commit of SqlAuditStore (a tenant's events recorded at once written in one
 * transaction) under adversarial load: nothing lost or recorded twice, duplicates dropped, a
 * refused row failing alone, chain order following call order. Run it once per adapter.
 */
export function describeGroupCommitConformance(
  name: string,
  open: () => Promise<GroupCommitFixture>,
  timeoutMs = 120_000,
): void {
  describe(`${name} group commit`, () => {
    let fixture: GroupCommitFixture;
    beforeAll(async () => {
      fixture = await open();
    }, timeoutMs);
    afterAll(async () => {
      await fixture?.close();
    }, timeoutMs);

    /** The tenant's event ids in chain order. */
    async function chainIds(tenant: string): Promise<string[]> {
      const { rows } = await fixture.raw(
        `SELECT event_id FROM audit_events WHERE tenant_id = $1 ORDER BY chain_seq`,
        [tenant],
      );
      return rows.map((r) => String(r['event_id']));
    }

    async function expectWholeChain(tenant: string, rows: number): Promise<void> {
      const [report] = await fixture.store.verifyChains({ tenantId: tenant });
      expect(report).toMatchObject({ tenantId: tenant, verified: rows, head: { chainSeq: String(rows) } });
      expect(report.broken).toBeUndefined();
    }

    it(
      'keeps each tenant chain whole and in call order with concurrent recorders, duplicates in and across batches',
      async () => {
        const store = fixture.store;
        // One tenant with more events than a batch holds, two with fewer.
        const sizes = [MAX_CHAIN_BATCH_ROWS * 2 + 5, 30, 17];
        const ids = sizes.map(() => newTenant());
        const stored = ids.map((t) => event(t, 'pre'));
        for (const e of stored) expect(await store.record(e, position())).toBe(true);
        const before = store.writeStats();

        // Interleaved across tenants, as a consumer records them; each tenant's burst holds one
        // event twice (the copy lands in the same batch) and a redelivery of an event stored.
        const calls: { envelope: EventEnvelope; again?: boolean }[] = [];
        const fresh = ids.map((t, k) =>
          Array.from({ length: sizes[k] }, (_, i) => event(t, `r${i % 5}`, { n: i })),
        );
        for (let i = 0; i < Math.max(...sizes); i++) {
          ids.forEach((_, k) => {
            const e = fresh[k][i];
            if (e === undefined) return;
            calls.push({ envelope: e });
            if (i === 7) calls.push({ envelope: e, again: true });
            if (i === 11) calls.push({ envelope: stored[k], again: true });
          });
        }
        const outcomes = await Promise.all(calls.map((c) => settle(store.record(c.envelope, position()))));
        expect(outcomes.filter((o) => !o.ok)).toEqual([]);
        calls.forEach((c, i) => expect(outcomes[i]).toEqual({ ok: true, value: c.again !== true }));

        for (const [k, tenant] of ids.entries()) {
          await expectWholeChain(tenant, sizes[k] + 1);
          // Every event once, in the order its recorder was called.
          expect(await chainIds(tenant)).toEqual([stored[k].id, ...fresh[k].map((e) => e.id)]);
        }
        const after = store.writeStats();
        expect(after.transactions - before.transactions).toBeLessThan(after.rows - before.rows);
      },
      timeoutMs,
    );

    it(
      "records a refused row's batch-mates and rejects the refused one with the reason",
      async () => {
        const store = fixture.store;
        const tenant = newTenant();
        const first = event(tenant, 'a');
        const mates = [event(tenant, 'a', { n: 1 }), event(tenant, 'a', { n: 2 })];
        // Year 0 is no timestamp PostgreSQL accepts (22008), even once the text is sanitised.
        const refused = { ...event(tenant, 'a', { n: 3 }), time: '0000-01-01T00:00:00Z' };
        const sanitised = event(tenant, 'a', { text: 'nul \u0000 here' });
        const burst = [first, mates[0], refused, sanitised, mates[1]];
        const outcomes = await Promise.all(burst.map((e) => settle(store.record(e, position()))));
        expect(outcomes.map((o) => o.ok && o.value)).toEqual([true, true, false, true, true]);
        const failure = outcomes[2];
        expect(failure.ok).toBe(false);
        if (!failure.ok) {
          expect(failure.error).toBeInstanceOf(AuditDataError);
          expect(failure.error).toMatchObject({ sqlState: '22008', eventId: refused.id });
        }
        await expectWholeChain(tenant, 4);
        expect(new Set(await chainIds(tenant))).toEqual(
          new Set([first.id, mates[0].id, sanitised.id, mates[1].id]),
        );
      },
      timeoutMs,
    );
  });
}
