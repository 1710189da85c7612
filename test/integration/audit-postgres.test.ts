import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// From the sources, like the conformance suites below: one declaration of the store classes.
import { GENESIS_HASH, MIGRATIONS, PostgresAuditStore } from '../../libs/audit/src';
import { RequestSubmittedEvent, type EventEnvelope } from '@llmbus/contracts';
import { Client } from 'pg';
import { describeAuditChainConformance } from '../../libs/audit/src/audit-store.chain.conformance';
import { describeAuditStoreConformance } from '../../libs/audit/src/audit-store.conformance';
import { describeUnstorableEventConformance } from '../../libs/audit/src/audit-store.unstorable.conformance';
import { databaseUrl } from '../support/env';

jest.setTimeout(60_000);

// Each run works in schemas of its own and drops them, so runs never share rows or migrations.
const schemas: string[] = [];
function newSchema(): string {
  const schema = `audit_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  schemas.push(schema);
  return schema;
}

// Roles are shared by the whole cluster: each gets a name of its own and is dropped after the run.
const roles: string[] = [];

afterAll(async () => {
  const admin = new Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    for (const role of roles) {
      await admin.query(`DROP OWNED BY "${role}"`);
      await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    }
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
    raw: async (sql, params = []) => ({
      rows: (await store.pool.query<Record<string, unknown>>(sql, [...params])).rows,
    }),
    close: () => store.close(),
  };
});

// Real PostgreSQL refuses U+0000 and lone surrogates: the store keeps a marked, storable copy.
describeUnstorableEventConformance('PostgresAuditStore', async () => {
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

// Two pools on one schema: two auditor replicas recording for the same tenant at once.
describeAuditChainConformance('PostgresAuditStore', async () => {
  const schema = newSchema();
  const open = () => PostgresAuditStore.open({ connectionString: databaseUrl(), schema, maxConnections: 4 });
  const [store, peer] = [await open(), await open()];
  return {
    store,
    peer,
    rawTransaction: async (statements) => {
      const connection = await store.pool.connect();
      try {
        await connection.query('BEGIN');
        for (const [sql, params = []] of statements) await connection.query(sql, [...params]);
        await connection.query('COMMIT');
      } catch (error) {
        await connection.query('ROLLBACK');
        throw error;
      } finally {
        connection.release();
      }
    },
    close: async () => {
      await Promise.all([store.close(), peer.close()]);
    },
  };
});

/** Runs `npm run orchestrate -- audit ...` as an operator would (the compiled CLI; `npm test` builds first). */
function orchestrateAudit(
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(__dirname, '..', '..', 'scripts', 'orchestrate.mjs');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, 'audit', ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl() } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('orchestrate audit (CLI on PostgreSQL)', () => {
  const submitted = (tenantid: string, requestId: string, n: number): EventEnvelope => ({
    id: randomUUID(),
    source: '/llmbus/ingress',
    type: RequestSubmittedEvent.type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, eventType: 'ticket.created', input: { n }, requester: { groups: [] } },
  });

  it('verify says what to do with tables older than the CLI, and refuses a schema name that is not one', async () => {
    // Tables from before the hash chain (0004): the read-only CLI applies no migration.
    const schema = newSchema();
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.query(`CREATE TABLE ${schema}.audit_events (seq bigint, tenant_id text)`);
      await admin.query(`INSERT INTO ${schema}.audit_events VALUES (1, 'acme')`);
    } finally {
      await admin.end();
    }
    const old = await orchestrateAudit(['verify', '--schema', schema]);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('does not exist (the audit tables there are older than this version');

    const odd = await orchestrateAudit(['verify', '--schema', `${schema} -c search_path=public`]);
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain('must be lowercase letters, digits or "_" (at most 63)');
  });

  it('verify passes on an untouched store and names the record after one row is altered; retain keeps it green', async () => {
    const schema = newSchema();
    const store = await PostgresAuditStore.open({
      connectionString: databaseUrl(),
      schema,
      maxConnections: 2,
    });
    const events = [0, 1, 2, 3].map((n) => submitted('acme', `r-${n}`, n));
    try {
      for (const [i, e] of events.entries()) {
        await store.record(e, { topic: 'orchestration.request.v1', partition: 0, offset: String(i) });
      }
      await store.record(submitted('globex', 'r-9', 9), {
        topic: 'orchestration.request.v1',
        partition: 0,
        offset: '9',
      });

      const clean = await orchestrateAudit(['verify', '--schema', schema]);
      expect(clean).toMatchObject({ code: 0 });
      expect(clean.stdout).toMatch(/tenant acme: 4 records verify, head #4 [0-9a-f]{64}/);
      expect(clean.stdout).toMatch(/tenant globex: 1 records verify/);

      // Retention of globex's prompts, measured two days ahead: a dry run first, then the run.
      const policyFile = join(tmpdir(), `retention-${schema}.json`);
      writeFileSync(policyFile, JSON.stringify({ default: {}, tenants: { globex: { prompts: 1 } } }));
      const ahead = new Date(Date.now() + 2 * 86_400_000).toISOString();
      const retain = (...extra: string[]) =>
        orchestrateAudit(['retain', '--policy', policyFile, '--as-of', ahead, '--schema', schema, ...extra]);
      const dry = await retain('--dry-run');
      expect(dry).toMatchObject({ code: 0 });
      expect(dry.stdout).toMatch(/tenant globex: would remove 1 prompts payloads/);
      const removed = await retain();
      expect(removed).toMatchObject({ code: 0 });
      expect(removed.stdout).toMatch(
        /removed 1 payloads in run [0-9a-f-]{36} \(recorded in audit_retention_runs\)/,
      );
      expect((await store.trail('globex', 'r-9'))[0].envelope.data).toHaveProperty('removedPayload');
      const afterRetention = await orchestrateAudit(['verify', '--schema', schema]);
      expect(afterRetention).toMatchObject({ code: 0 });
      expect(afterRetention.stdout).toMatch(
        /tenant globex: 1 records verify, head #1 [0-9a-f]{64} \(1 payloads removed by retention\)/,
      );

      // As a superuser would: the append-only trigger switched off around the change.
      const admin = new Client({ connectionString: databaseUrl(), options: `-c search_path=${schema}` });
      await admin.connect();
      try {
        await admin.query('BEGIN');
        await admin.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
        await admin.query(
          `UPDATE audit_events SET payload = jsonb_set(payload, '{input,n}', '42') WHERE tenant_id = 'acme' AND chain_seq = 3`,
        );
        await admin.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
        await admin.query('COMMIT');
      } finally {
        await admin.end();
      }
      const tampered = await orchestrateAudit(['verify', '--schema', schema]);
      expect(tampered.code).toBe(1);
      expect(tampered.stdout).toContain(
        `tenant acme: BROKEN at record #3 (seq 3, event ${events[2].id}, ${RequestSubmittedEvent.type}): the payload differs from its recorded digest`,
      );
      expect(tampered.stdout).toMatch(/tenant globex: 1 records verify/);
      expect(tampered.stdout).toMatch(/1 of 2 tenant chains are broken/);
      const onlyGlobex = await orchestrateAudit(['verify', '--tenant', 'globex', '--schema', schema]);
      expect(onlyGlobex.code).toBe(0);
      // A tenant with no records is not "0 records verify": it is named as missing, and exits 1.
      const nobody = await orchestrateAudit(['verify', '--tenant', 'nobody', '--schema', schema]);
      expect(nobody.code).toBe(1);
      expect(nobody.stdout).toContain('tenant nobody has no audit records');
      expect(nobody.stdout).not.toContain('records verify');
    } finally {
      await store.close();
    }
  });
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
      // The row recorded before the chain stays outside it; the chain starts after it, at genesis.
      expect(old[0].chain).toBeUndefined();
      expect((await store.trail('acme', 'r-2'))[0].chain).toMatchObject({ seq: 1, prevHash: GENESIS_HASH });
      const [report] = await store.verifyChains({ tenantId: 'acme' });
      expect(report).toMatchObject({ verified: 1, beforeChain: 1 });
      expect(report.broken).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('upgrades a trail under 0004 whose (tenant_id, event_id) index was built concurrently beforehand', async () => {
    // CREATE INDEX in the migration's transaction holds writes back for the whole build (about 2 s
    // per million rows here), so on a large trail the index is built by hand first, concurrently.
    const schema = newSchema();
    const admin = new Client({ connectionString: databaseUrl(), options: `-c search_path=${schema}` });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.query('BEGIN');
      for (const migration of MIGRATIONS.slice(0, 4)) await admin.query(migration.sql);
      await admin.query(
        'CREATE TABLE audit_schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      for (const migration of MIGRATIONS.slice(0, 4))
        await admin.query('INSERT INTO audit_schema_migrations (id) VALUES ($1)', [migration.id]);
      await admin.query('COMMIT');
      await admin.query(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_events_by_event_id ON audit_events (tenant_id, event_id)',
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

describe('PostgresAuditStore.reader (request statuses for the router)', () => {
  const submitted = (tenantid: string, requestId: string): EventEnvelope => ({
    id: randomUUID(),
    source: '/llmbus/ingress',
    type: RequestSubmittedEvent.type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, eventType: 'ticket.created', input: {}, requester: { groups: [] } },
  });
  const where = { topic: 'orchestration.request.v1', partition: 0, offset: '1' };

  /** A schema the auditor migrated, holding one submitted request of tenant "acme". */
  async function auditedSchema(): Promise<string> {
    const schema = newSchema();
    const writer = await PostgresAuditStore.open({ connectionString: databaseUrl(), schema });
    try {
      await writer.record(submitted('acme', 'r-1'), where);
    } finally {
      await writer.close();
    }
    return schema;
  }

  it('serves statuses under a role that may only SELECT audit_events (the grants the README lists)', async () => {
    const schema = await auditedSchema();
    const role = `llmbus_status_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    roles.push(role);
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'status-reader'`);
      await admin.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`);
      await admin.query(`GRANT SELECT ON "${schema}".audit_events TO "${role}"`);
    } finally {
      await admin.end();
    }
    const url = new URL(databaseUrl());
    url.username = role;
    url.password = 'status-reader';
    const reader = PostgresAuditStore.reader({ connectionString: url.toString(), schema });
    try {
      await reader.ping();
      expect(await reader.requestStatus('acme', 'r-1')).toMatchObject({
        requestId: 'r-1',
        status: 'accepted',
      });
      expect(await reader.requestStatus('globex', 'r-1')).toBeUndefined();
      await expect(reader.record(submitted('acme', 'r-2'), where)).rejects.toThrow(
        /read-only transaction|permission denied/,
      );
    } finally {
      await reader.close();
    }
  });

  it('writes nothing even through a privileged URL: its sessions are read-only', async () => {
    const schema = await auditedSchema();
    const reader = PostgresAuditStore.reader({ connectionString: databaseUrl(), schema });
    try {
      await expect(reader.record(submitted('acme', 'r-2'), where)).rejects.toThrow(/read-only transaction/);
      await expect(reader.migrate()).rejects.toThrow(/read-only transaction/);
    } finally {
      await reader.close();
    }
  });

  it('opens while the database is unreachable, and its queries reject with the cause', async () => {
    const reader = PostgresAuditStore.reader({
      connectionString: 'postgres://postgres@127.0.0.1:1/llmbus',
      schema: newSchema(),
    });
    try {
      await expect(reader.ping()).rejects.toThrow(/ECONNREFUSED|connect/);
      await expect(reader.requestStatus('acme', 'r-1')).rejects.toThrow(/ECONNREFUSED|connect/);
    } finally {
      await reader.close();
    }
  });
});
