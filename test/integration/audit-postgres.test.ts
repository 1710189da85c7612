import { randomUUID } from 'node:crypto';
import { MIGRATIONS, PostgresAuditStore } from '@llmbus/audit';
import { Client } from 'pg';
import { describeAuditStoreConformance } from '../../libs/audit/src/audit-store.conformance';
import { databaseUrl } from '../support/env';

jest.setTimeout(60_000);

// Each run works in schemas of its own and drops them, so runs never share rows or migrations.
const schemas: string[] = [];
function newSchema(): string {
  const schema = `audit_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  const admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
});

describeAuditStoreConformance('PostgresAuditStore', async () => {
  const store = await PostgresAuditStore.open({
    connectionString: databaseUrl(),
    schema: newSchema(),
    maxConnections: 3,
  });
  return {
    store,
    raw: async (sql) => ({ rows: (await store.pool.query<Record<string, unknown>>(sql)).rows }),
    close: () => store.close(),
  };
});

describe('PostgresAuditStore migrations', () => {
  it('lets two processes start on a fresh schema at once and applies each migration once', async () => {
    const schema = newSchema();
    const open = () =>
      PostgresAuditStore.open({ connectionString: databaseUrl(), schema, maxConnections: 2 });
    const [a, b] = await Promise.all([open(), open()]);
    try {
      const { rows } = await a.pool.query<{ id: string }>(
        'SELECT id FROM audit_schema_migrations ORDER BY id',
      );
      expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
      expect(await b.migrate()).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('names the problem when the database cannot be reached', async () => {
    const unreachable = 'postgres://postgres@127.0.0.1:1/llmbus';
    await expect(
      PostgresAuditStore.open({ connectionString: unreachable, schema: newSchema() }),
    ).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
