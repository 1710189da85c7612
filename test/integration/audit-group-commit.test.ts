import { randomUUID } from 'node:crypto';
// From the sources, like audit-postgres.test.ts: one declaration of the store classes.
import { PostgresAuditStore, SqlAuditStore, type SqlClient } from '../../libs/audit/src';
import { CHAIN_LOCK_CLASS } from '../../libs/audit/src/audit-chain';
import { Client, Pool, type PoolClient } from 'pg';
import {
  describeGroupCommitConformance,
  event,
  position,
  settle,
  type Outcome,
} from '../../libs/audit/src/audit-store.group-commit.conformance';
import { databaseUrl } from '../support/env';

// Adversarial checks of the audit store's group commit (a tenant's concurrent events written in
// one transaction) on the real PostgreSQL server: duplicates inside and across batches, a refused
// row among its batch-mates, the server terminating the writer's backend in the middle of a batch.

jest.setTimeout(120_000);

const run = randomUUID().replace(/-/g, '').slice(0, 12);
const schema = `audit_gc_${run}`;
/** Names this file's connections, so only they are ever terminated. */
const applicationName = `audit-gc-${run}`;
let admin: Client;
let store: PostgresAuditStore;

function withApplicationName(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

beforeAll(async () => {
  admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  store = await PostgresAuditStore.open({
    connectionString: withApplicationName(databaseUrl()),
    schema,
    maxConnections: 4,
  });
});

afterAll(async () => {
  await store?.close();
  if (admin) {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

async function rowsOf(tenant: string): Promise<{ event_id: string; chain_seq: string }[]> {
  const { rows } = await admin.query<{ event_id: string; chain_seq: string }>(
    `SELECT event_id, chain_seq::text AS chain_seq FROM "${schema}".audit_events
     WHERE tenant_id = $1 ORDER BY audit_events.chain_seq`,
    [tenant],
  );
  return rows;
}

async function expectChainOf(tenant: string, rows: number): Promise<void> {
  const [report] = await store.verifyChains({ tenantId: tenant });
  expect(report).toMatchObject({ tenantId: tenant, verified: rows, head: { chainSeq: String(rows) } });
  expect(report.broken).toBeUndefined();
  expect((await rowsOf(tenant)).map((r) => r.chain_seq)).toEqual(
    Array.from({ length: rows }, (_, i) => String(i + 1)),
  );
}

/** Waits (deadline, no fixed sleep) until one of this file's backends waits on a tenant's chain lock. */
async function waitingWriter(
  tenant: string,
  killed: readonly number[],
  deadlineMs = 30_000,
): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
       WHERE a.application_name = $1 AND l.locktype = 'advisory' AND NOT l.granted
         AND l.classid = $2::oid AND l.objid = hashtext($3)::oid AND a.pid <> ALL($4::int[])`,
      [applicationName, CHAIN_LOCK_CLASS, tenant, killed],
    );
    if (rows.length > 0) return rows[0].pid;
    if (Date.now() > until)
      throw new Error(`no writer of ${tenant} waited on its chain lock in ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeGroupCommitConformance('PostgresAuditStore', async () => {
  const conformance = await PostgresAuditStore.open({
    connectionString: databaseUrl(),
    schema,
    maxConnections: 4,
  });
  return {
    store: conformance,
    raw: async (sql, params = []) => ({
      rows: (await conformance.pool.query<Record<string, unknown>>(sql, [...params])).rows,
    }),
    close: () => conformance.close(),
  };
});

describe('PostgresAuditStore group commit with two replicas', () => {
  it('records each event once when both replicas get the same events at once (a rebalance redelivers)', async () => {
    const replica = await PostgresAuditStore.open({
      connectionString: databaseUrl(),
      schema,
      maxConnections: 4,
    });
    try {
      const tenants = [`r1-${run}`, `r2-${run}`];
      const events = tenants.flatMap((t) =>
        Array.from({ length: 50 }, (_, i) => event(t, `q${i % 4}`, { n: i })),
      );
      // Each event to both replicas, in opposite orders, so their batches overlap in part.
      const calls = [
        ...events.map((e) => ({ e, outcome: settle(store.record(e, position())) })),
        ...[...events].reverse().map((e) => ({ e, outcome: settle(replica.record(e, position())) })),
      ];
      const told = new Map<string, number>();
      for (const { e, outcome } of calls) {
        const o = await outcome;
        expect(o.ok).toBe(true);
        if (o.ok && o.value) told.set(e.id, (told.get(e.id) ?? 0) + 1);
      }
      expect(told.size).toBe(events.length);
      expect([...told.values()].every((n) => n === 1)).toBe(true);
      for (const tenant of tenants) await expectChainOf(tenant, 50);
    } finally {
      await replica.close();
    }
  });
});

describe('PostgresAuditStore group commit when the server ends the session', () => {
  it('never says "recorded" for a row lost when the server terminates the writer mid-batch', async () => {
    const tenant = `killed-${run}`;
    const burst = Array.from({ length: 6 }, (_, i) => event(tenant, 'k', { n: i }));
    const holder = new Client({ connectionString: databaseUrl() });
    await holder.connect();
    let outcomes: Outcome[];
    try {
      // Another writer holds the tenant's chain lock: the store's transactions wait on it.
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', [CHAIN_LOCK_CLASS, tenant]);
      const before = store.writeStats();
      const pending = burst.map((e) => settle(store.record(e, position())));
      // The first goes alone; terminate it while it waits. The other five are then one batch:
      // terminate that too, then one of the rows retried one by one.
      const killed: number[] = [];
      for (let kill = 0; kill < 3; kill++) {
        const pid = await waitingWriter(tenant, killed);
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        killed.push(pid);
      }
      await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', [CHAIN_LOCK_CLASS, tenant]);
      outcomes = await Promise.all(pending);
      expect(store.writeStats().batchesRolledBack).toBe(before.batchesRolledBack + 1);
    } finally {
      await holder.end();
    }
    const durable = new Set((await rowsOf(tenant)).map((r) => r.event_id));
    outcomes.forEach((o, i) => {
      // Resolved "recorded" only for a durable row; a rejected one is left for the auditor's retry.
      if (o.ok) expect(durable.has(burst[i].id)).toBe(o.value);
    });
    expect(outcomes.filter((o) => !o.ok)).toHaveLength(2);
    // The auditor redelivers what was rejected: recorded now, and the chain has no gap.
    for (const [i, o] of outcomes.entries())
      if (!o.ok) expect(await store.record(burst[i], position())).toBe(!durable.has(burst[i].id));
    await expectChainOf(tenant, 6);
  });

  /**
   * A store whose client commits, then reports the connection lost before "COMMIT" is read, once,
   * for the first transaction whose INSERT holds `liesFrom` parameters or more (28 a row): the
   * store cannot know from the error whether the rows were written.
   */
  function inDoubtStore(liesFrom: number): { store: SqlAuditStore; lies: () => number } {
    const pool = new Pool({ connectionString: databaseUrl(), max: 2, options: `-c search_path=${schema}` });
    pool.on('error', () => undefined);
    let lies = 1;
    const on = (run: Pool | PoolClient, insert: { seen: boolean }): SqlClient => ({
      query: async <R>(text: string, params: readonly unknown[] = []) => {
        if (text.trimStart().startsWith('INSERT INTO audit_events') && params.length >= liesFrom)
          insert.seen = true;
        const result = await run.query(text, [...params]);
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      },
      exec: async (script) => {
        await run.query(script);
      },
      transaction: async <T>(work: (tx: SqlClient) => Promise<T>): Promise<T> => {
        const connection = await pool.connect();
        const insert = { seen: false };
        try {
          await connection.query('BEGIN');
          const value = await work(on(connection, insert));
          await connection.query('COMMIT');
          if (insert.seen && lies-- > 0) throw new Error('Connection terminated unexpectedly');
          return value;
        } catch (error) {
          await connection.query('ROLLBACK').catch(() => undefined);
          throw error;
        } finally {
          connection.release();
        }
      },
    });
    return {
      store: new SqlAuditStore(on(pool, { seen: false }), () => pool.end(), schema),
      lies: () => lies,
    };
  }

  it('tells the recorders of a batch committed as the connection was lost that their rows are recorded', async () => {
    // More than 28 parameters: a batch's INSERT.
    const { store: inDoubt, lies } = inDoubtStore(29);
    try {
      const tenant = `in-doubt-${run}`;
      const heard: string[] = [];
      inDoubt.onRecorded((_tenant, _request, type) => heard.push(type));
      const burst = Array.from({ length: 5 }, (_, i) => event(tenant, 'd', { n: i }));
      const outcomes = await Promise.all(burst.map((e) => settle(inDoubt.record(e, position()))));
      expect(lies()).toBe(0);
      // The first went alone; the batch of the other four was committed, its commit unconfirmed.
      expect(outcomes).toEqual(burst.map(() => ({ ok: true, value: true })));
      expect(heard).toHaveLength(5);
      expect(inDoubt.writeStats()).toMatchObject({ transactions: 2, rows: 5, batchesRolledBack: 0 });
      await expectChainOf(tenant, 5);
    } finally {
      await inDoubt.close();
    }
  });

  it('tells the recorder of a lone row committed as the connection was lost that it is recorded, and a redelivery that it is a duplicate', async () => {
    const { store: inDoubt, lies } = inDoubtStore(28);
    try {
      const tenant = `in-doubt-one-${run}`;
      const heard: string[] = [];
      inDoubt.onRecorded((_tenant, _request, type) => heard.push(type));
      const lone = event(tenant, 'd', { n: 0 });
      expect(await inDoubt.record(lone, position())).toBe(true);
      expect(lies()).toBe(0);
      expect(heard).toHaveLength(1);
      expect(await inDoubt.record(lone, position())).toBe(false);
      expect(heard).toHaveLength(1);
      expect(inDoubt.writeStats()).toMatchObject({ transactions: 2, rows: 2, batchesRolledBack: 0 });
      await expectChainOf(tenant, 1);
    } finally {
      await inDoubt.close();
    }
  });
});
