import { describeAuditStoreConformance } from './audit-store.conformance';
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
