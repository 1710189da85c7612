import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAuditChainConformance } from './audit-store.chain.conformance';
import { describeAuditStoreConformance } from './audit-store.conformance';
import { describeGroupCommitConformance } from './audit-store.group-commit.conformance';
import { describeUnstorableEventConformance } from './audit-store.unstorable.conformance';
import { PgliteAuditStore } from './pglite-audit-store';

// PGlite runs in this process (WASM, in memory): no network or disk, so it runs with the unit tests.
// Each test opens a fresh database (a few seconds of WASM start and migrations on a busy 2-core box).
jest.setTimeout(120_000);
describeAuditStoreConformance('PgliteAuditStore', async () => {
  const store = await PgliteAuditStore.open();
  return {
    store,
    raw: async (sql, params = []) => ({
      rows: (await store.db.query<Record<string, unknown>>(sql, [...params])).rows,
    }),
    close: () => store.close(),
  };
});

describeUnstorableEventConformance('PgliteAuditStore', async () => {
  const store = await PgliteAuditStore.open();
  return {
    store,
    raw: async (sql) => ({ rows: (await store.db.query<Record<string, unknown>>(sql)).rows }),
    close: () => store.close(),
  };
});

// One PGlite connection: the "replica" is the same store, whose transactions PGlite serialises.
describeAuditChainConformance('PgliteAuditStore', async () => {
  const store = await PgliteAuditStore.open();
  return {
    store,
    peer: store,
    gathersFirstBatch: true,
    rawTransaction: async (statements) => {
      await store.db.transaction(async (tx) => {
        for (const [sql, params = []] of statements) await tx.query(sql, [...params]);
      });
    },
    close: () => store.close(),
  };
});

describe('PgliteAuditStore.onRecorded', () => {
  it('tells of each committed new row with its tenant, request and type, not of a duplicate', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const heard: string[] = [];
      const stop = store.onRecorded((tenant, request, type) => heard.push(`${tenant}/${request}/${type}`));
      const envelope = {
        id: 'e-1',
        source: '/test',
        type: 'llmbus.request.submitted',
        specversion: '1.0' as const,
        time: new Date().toISOString(),
        correlationid: 'r-1',
        tenantid: 'acme',
        schemaversion: 1,
        data: { requestId: 'r-1' },
      };
      const position = { topic: 'orchestration.request.v1', partition: 0, offset: '0' };
      expect(await store.record(envelope, position)).toBe(true);
      expect(await store.record(envelope, position)).toBe(false);
      stop();
      expect(await store.record({ ...envelope, id: 'e-2' }, { ...position, offset: '1' })).toBe(true);
      expect(heard).toEqual(['acme/r-1/llmbus.request.submitted']);
    } finally {
      await store.close();
    }
  });
});

describe('PgliteAuditStore: events recorded at once', () => {
  const envelope = (tenantid: string, id: string, requestId: string) => ({
    id,
    source: '/llmbus/generator',
    type: 'llmbus.response.generated',
    specversion: '1.0' as const,
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, text: `answer ${id}`, usage: { modelId: 'm', costUsd: 0.00012345678912 } },
  });
  const position = (offset: number) => ({
    topic: 'orchestration.response.v1',
    partition: 3,
    offset: String(offset),
  });

  it('go in together when recorded in the same turn of the event loop: one transaction, the chains verified', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const events = Array.from({ length: 12 }, (_, i) =>
        envelope(i % 3 === 0 ? 'globex' : 'acme', `e-${i}`, `r-${i % 4}`),
      );
      const before = store.writeStats().transactions;
      const recorded = await Promise.all(events.map((e, i) => store.record(e, position(i))));
      expect(recorded).toEqual(events.map(() => true));
      // One per tenant (the group commit is per tenant), not one for the first event and one for the rest.
      expect(store.writeStats().transactions - before).toBe(2);
      const reports = await store.verifyChains({});
      expect(reports.map((r) => [r.tenantId, r.verified, r.broken])).toEqual([
        ['acme', 8, undefined],
        ['globex', 4, undefined],
      ]);
    } finally {
      await store.close();
    }
  });

  it('answer each caller alone when the batch holds a duplicate or a row the database refuses', async () => {
    const store = await PgliteAuditStore.open();
    try {
      expect(await store.record(envelope('acme', 'e-0', 'r-0'), position(0))).toBe(true);
      const sanitised: string[] = [];
      const results = await Promise.all([
        store.record(envelope('acme', 'e-1', 'r-0'), position(1)),
        store.record(envelope('acme', 'e-0', 'r-0'), position(0)), // already recorded
        store.record(envelope('acme', 'e-2', 'r-0'), position(2)),
        store.record(envelope('acme', 'e-2', 'r-0'), position(2)), // twice in the batch
        store.record({ ...envelope('acme', 'e-3', 'r-0'), subject: 'nul \u0000 here' }, position(3), {
          onSanitised: (reason) => sanitised.push(reason),
        }),
      ]);
      expect(results).toEqual([true, false, true, false, true]);
      expect(sanitised).toHaveLength(1);
      const [report] = await store.verifyChains({ tenantId: 'acme' });
      expect(report).toMatchObject({ verified: 4 });
      expect(report.broken).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('PgliteAuditStore.requestStatus', () => {
  it('reads through a statement prepared once, with the answers of an unprepared read', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const envelope = (id: string, type: string) => ({
        id,
        source: '/llmbus/router',
        type,
        specversion: '1.0' as const,
        time: new Date().toISOString(),
        correlationid: 'r-1',
        tenantid: 'acme',
        schemaversion: 1,
        data: { requestId: 'r-1' },
      });
      const position = { topic: 'orchestration.request.v1', partition: 0, offset: '0' };
      await store.record(envelope('e-1', 'llmbus.request.submitted'), position);
      const unprepared = jest.spyOn(store.db, 'query');
      expect(await store.requestStatus('acme', 'r-1')).toMatchObject({ status: 'accepted' });
      await store.record(envelope('e-2', 'llmbus.request.failed'), { ...position, offset: '1' });
      expect(await store.requestStatus('acme', 'r-1')).toMatchObject({ status: 'failed' });
      expect(await store.requestStatus('acme', 'unknown')).toBeUndefined();
      expect(await store.requestStatus('globex', 'r-1')).toBeUndefined();
      expect(unprepared.mock.calls.filter(([sql]) => sql.includes('WITH events AS'))).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('PgliteAuditStore: statements per request', () => {
  const envelope = (id: string, type: string) => ({
    id,
    source: '/llmbus/router',
    type,
    specversion: '1.0' as const,
    time: new Date().toISOString(),
    correlationid: `r-${id}`,
    tenantid: 'acme',
    schemaversion: 1,
    data: { requestId: `r-${id}`, submissionDigest: `d-${id}` },
  });
  const position = (offset: number) => ({
    topic: 'orchestration.request.v1',
    partition: 0,
    offset: String(offset),
  });

  it('writes the chain and reads events by id through prepared statements, the chain verified', async () => {
    const store = await PgliteAuditStore.open();
    try {
      const unprepared = jest.spyOn(store.db, 'query');
      const transactions = jest.spyOn(store.db, 'transaction');
      for (let i = 0; i < 8; i++)
        expect(await store.record(envelope(`e-${i}`, 'llmbus.request.submitted'), position(i))).toBe(true);
      expect(await store.record(envelope('e-3', 'llmbus.request.submitted'), position(3))).toBe(false);
      expect((await store.eventById('acme', 'e-5'))?.envelope.data).toMatchObject({
        submissionDigest: 'd-e-5',
      });
      expect(await store.eventById('acme', 'unknown')).toBeUndefined();
      expect(await store.eventById('globex', 'e-5')).toBeUndefined();
      expect(transactions).toHaveBeenCalled();
      expect(unprepared).not.toHaveBeenCalled();
      const [report] = await store.verifyChains({ tenantId: 'acme' });
      expect(report).toMatchObject({ verified: 8 });
      expect(report.broken).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('finds an event by tenant and id through an index, not by reading every row of the tenant', async () => {
    const store = await PgliteAuditStore.open();
    try {
      // A tenant with a history: one recorded event copied 3,000 times under other ids and chain positions.
      expect(await store.record(envelope('e-0', 'llmbus.request.submitted'), position(0))).toBe(true);
      const { rows: columns } = await store.db.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
         WHERE table_name = 'audit_events' AND column_name NOT IN ('seq', 'event_id', 'chain_seq')`,
      );
      const copied = columns.map((c) => `"${c.name}"`).join(', ');
      await store.db.query(
        `INSERT INTO audit_events (event_id, chain_seq, ${copied})
         SELECT 'copy-' || g, g + 1, ${copied} FROM audit_events, generate_series(1, 3000) AS g`,
      );
      await store.db.query('ANALYZE audit_events');
      const { rows } = await store.db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT * FROM audit_events WHERE tenant_id = 'acme' AND event_id = 'e-1' ORDER BY seq LIMIT 1`,
      );
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('audit_events_by_event_id');
    } finally {
      await store.close();
    }
  });
});

describeGroupCommitConformance('PgliteAuditStore', async () => {
  const store = await PgliteAuditStore.open();
  return {
    store,
    raw: async (sql, params = []) => ({
      rows: (await store.db.query<Record<string, unknown>>(sql, [...params])).rows,
    }),
    close: () => store.close(),
  };
});

describe('PgliteAuditStore WAL segments', () => {
  const envelope = (k: number) => ({
    id: `e-${k}`,
    source: '/llmbus/router',
    type: 'llmbus.request.submitted',
    specversion: '1.0' as const,
    time: new Date().toISOString(),
    correlationid: `r-${k}`,
    tenantid: 'acme',
    schemaversion: 1,
    data: { requestId: `r-${k}` },
  });
  const position = (k: number) => ({ topic: 'orchestration.request.v1', partition: 0, offset: String(k) });

  it('creates new WAL segments without zero-filling them in memory, and keeps zero-filling on a data directory', async () => {
    const inMemory = await PgliteAuditStore.open();
    const dataDir = await mkdtemp(join(tmpdir(), 'llmbus-audit-wal-'));
    try {
      const onDisk = await PgliteAuditStore.open({ dataDir });
      try {
        const setting = async (store: PgliteAuditStore) =>
          (await store.db.query<{ wal_init_zero: string }>('SHOW wal_init_zero')).rows[0].wal_init_zero;
        expect([await setting(inMemory), await setting(onDisk)]).toEqual(['off', 'on']);
        // Past a segment boundary the in-memory store goes on recording and its chain verifies.
        await inMemory.db.query('SELECT pg_switch_wal()');
        expect(await inMemory.record(envelope(1), position(1))).toBe(true);
        expect((await inMemory.verifyChains({})).map((r) => [r.verified, r.broken])).toEqual([
          [1, undefined],
        ]);
      } finally {
        await onDisk.close();
      }
    } finally {
      await inMemory.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
