import { describeAuditChainConformance } from './audit-store.chain.conformance';
import { describeAuditStoreConformance } from './audit-store.conformance';
import { describeGroupCommitConformance } from './audit-store.group-commit.conformance';
import { describeUnstorableEventConformance } from './audit-store.unstorable.conformance';
import { PgliteAuditStore } from './pglite-audit-store';

// PGlite runs in this process (WASM, in memory): no network or disk, so it runs with the unit tests.
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
