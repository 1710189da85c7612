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

  it('upgrades a database recorded under 0001 to the tenant + source + id identity, keeping its rows', async () => {
    const schema = newSchema();
    const admin = new Client({ connectionString: databaseUrl(), options: `-c search_path=${schema}` });
    await admin.connect();
    try {
      // The schema as 0001 left it, with an event recorded under it.
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query(MIGRATIONS[0].sql);
      await admin.query(
        'CREATE TABLE audit_schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await admin.query('INSERT INTO audit_schema_migrations (id) VALUES ($1)', [MIGRATIONS[0].id]);
      await admin.query(
        `INSERT INTO audit_events (event_id, tenant_id, correlation_id, type, source, spec_version, schema_version,
           topic, topic_partition, topic_offset, event_time, payload)
         VALUES ('e-1', 'acme', 'r-1', 'llmbus.request.submitted', '/upstream/a', '1.0', 1,
           'orchestration.request.v1', 0, 1, now(), '{"requestId": "r-1"}')`,
      );
    } finally {
      await admin.end();
    }
    const store = await PostgresAuditStore.open({
      connectionString: databaseUrl(),
      schema,
      maxConnections: 2,
    });
    try {
      const { rows } = await store.pool.query<{ id: string }>(
        'SELECT id FROM audit_schema_migrations ORDER BY id',
      );
      expect(rows.map((r) => r.id)).toEqual(MIGRATIONS.map((m) => m.id));
      const old = await store.trail('acme', 'r-1');
      expect(old.map((r) => [r.envelope.id, r.envelope.source])).toEqual([['e-1', '/upstream/a']]);
      const sameIdOtherSource = {
        ...old[0].envelope,
        source: '/upstream/b',
        correlationid: 'r-2',
        data: { requestId: 'r-2' },
      };
      const where = { topic: 'orchestration.request.v1', partition: 0, offset: '2' };
      expect(await store.record(sameIdOtherSource, where)).toBe(true);
      expect(await store.record(old[0].envelope, where)).toBe(false);
      expect((await store.trail('acme', 'r-2')).map((r) => r.envelope.source)).toEqual(['/upstream/b']);
    } finally {
      await store.close();
    }
  });

  it('names the problem when the database cannot be reached', async () => {
    const unreachable = 'postgres://postgres@127.0.0.1:1/llmbus';
    await expect(
      PostgresAuditStore.open({ connectionString: unreachable, schema: newSchema() }),
    ).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
