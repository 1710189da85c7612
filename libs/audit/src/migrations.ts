import type { SqlClient } from './sql-client';

/** One schema change; ids sort in the order they are applied and never change once released. */
export interface Migration {
  readonly id: string;
  readonly sql: string;
}

/**
 * The audit schema, shared by the Postgres and PGlite adapters. Append new migrations at the
 * end; never edit one that has shipped (databases record which ids they have applied).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001_audit_events',
    sql: `
CREATE TABLE audit_events (
  event_id          text PRIMARY KEY,
  -- Recording order: breaks ties between equal event times and pages the request list.
  seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  tenant_id         text NOT NULL,
  correlation_id    text NOT NULL,
  causation_id      text,
  type              text NOT NULL,
  source            text NOT NULL,
  subject           text,
  spec_version      text NOT NULL,
  schema_version    integer NOT NULL,
  topic             text NOT NULL,
  topic_partition   integer NOT NULL,
  topic_offset      bigint NOT NULL,
  event_time        timestamptz NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempt           integer,
  traceparent       text,
  payload           jsonb NOT NULL,
  stage             text,
  model_id          text,
  prompt_tokens     integer,
  completion_tokens integer,
  cost_usd          numeric(20, 10),
  latency_ms        double precision
);
CREATE INDEX audit_events_trail ON audit_events (tenant_id, correlation_id, event_time, seq);
CREATE INDEX audit_events_by_type ON audit_events (tenant_id, type, event_time);
CREATE INDEX audit_events_by_seq ON audit_events (tenant_id, seq);

-- Append-only, enforced by the database for every role that is subject to triggers.
CREATE FUNCTION audit_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change();
`,
  },
  {
    // CloudEvents identifies an event by source + id ("Producers MUST ensure that source + id is
    // unique for each distinct event", CloudEvents 1.0, "id"), and ids are only unique within a
    // tenant: two producers or tenants may send the same id, and each event must be recorded.
    // seq, already unique and never reused, becomes the row identity.
    id: '0002_event_identity_tenant_source_id',
    sql: `
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_seq_key;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (seq);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_identity UNIQUE (tenant_id, source, event_id);
`,
  },
  {
    id: '0003_audit_events_sanitised_reason',
    sql: `
-- Set when PostgreSQL refused an event as received (U+0000 or a lone surrogate in its text, a
-- number out of a column's range) and a storable copy was recorded instead; NULL = as received.
ALTER TABLE audit_events ADD COLUMN sanitised_reason text;
`,
  },
  {
    // Each tenant's trail becomes a hash chain (audit-chain.ts). Rows recorded before this
    // migration keep NULL chain columns: they predate the chain and are not covered by it; a
    // tenant's chain starts at its first event recorded after the migration, whose prev_hash is
    // the genesis marker (64 zeros). The NOT VALID check leaves those rows alone and refuses any
    // new row without its chain columns.
    id: '0004_audit_hash_chain',
    sql: `
ALTER TABLE audit_events
  ADD COLUMN chain_seq bigint,
  ADD COLUMN prev_hash text,
  ADD COLUMN record_hash text,
  ADD COLUMN payload_digest text,
  -- Set by the retention job when it replaced the payload by a tombstone keeping its digest.
  ADD COLUMN payload_removed_at timestamptz;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chain_position UNIQUE (tenant_id, chain_seq);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chained
  CHECK (chain_seq IS NOT NULL AND prev_hash IS NOT NULL AND record_hash IS NOT NULL AND payload_digest IS NOT NULL)
  NOT VALID;

-- What each retention run removed: its policy and the count per tenant and event class. Each
-- removed payload's row keeps a tombstone naming the run, the class and the payload's digest.
CREATE TABLE audit_retention_runs (
  run_id      text PRIMARY KEY,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  policy      jsonb NOT NULL,
  removed     jsonb NOT NULL
);

-- Still append-only, with one exception for the retention job only: inside a transaction that
-- set llmbus.audit_retention = 'on' (SET LOCAL), an UPDATE may replace a payload by a tombstone
-- {"removedPayload": {"digest": <payload_digest>, ...}} and set payload_removed_at, once per row,
-- changing no other column. The hashed columns never change, so the chain stays verifiable.
CREATE OR REPLACE FUNCTION audit_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND current_setting('llmbus.audit_retention', true) = 'on'
     AND OLD.payload_removed_at IS NULL
     AND NEW.payload_removed_at IS NOT NULL
     AND (to_jsonb(OLD) - 'payload' - 'payload_removed_at') = (to_jsonb(NEW) - 'payload' - 'payload_removed_at')
     AND jsonb_typeof(NEW.payload -> 'removedPayload') = 'object'
     AND (NEW.payload - 'removedPayload') = '{}'::jsonb
     AND NEW.payload -> 'removedPayload' ->> 'digest' IS NOT NULL
     AND (OLD.payload_digest IS NULL OR NEW.payload -> 'removedPayload' ->> 'digest' = OLD.payload_digest)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
`,
  },
  {
    // eventById (the router's check of a POST's request id, the dead-letter API) looks an event up
    // by tenant and id alone: no index led with both, so an unknown id, as every new request's is,
    // read every row of the tenant (the identity index has the source between them). IF NOT EXISTS:
    // built in the migration's transaction, the index holds the trail's writes back for the whole
    // build (about 2 s per million rows), so on a large trail operators build it CONCURRENTLY
    // beforehand (README, Audit trail); the only change since release, and the same index.
    id: '0005_audit_events_by_event_id',
    sql: `CREATE INDEX IF NOT EXISTS audit_events_by_event_id ON audit_events (tenant_id, event_id);`,
  },
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Throws unless `schema` is a plain PostgreSQL identifier (lowercase letters, digits, `_`, at most
 * 63, not starting with a digit): it is written into SQL and into connection startup options
 * (`-c search_path=…`), where a space or a quote would add statements or settings of its own.
 */
export function assertAuditSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema))
    throw new Error(
      `audit schema ${JSON.stringify(schema)} must be lowercase letters, digits or "_" (at most 63)`,
    );
}

/**
 * Applies the migrations a database has not recorded yet, in order, in one transaction under an
 * advisory lock, so processes starting together neither race nor apply a migration twice.
 * Resolves with the ids applied by this call (empty when the schema was current).
 */
export async function migrate(client: SqlClient, options: { schema?: string } = {}): Promise<string[]> {
  if (options.schema !== undefined) assertAuditSchemaName(options.schema);
  return client.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('llmbus.audit.migrations'))`);
    if (options.schema !== undefined) await tx.exec(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS audit_schema_migrations (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = await tx.query<{ id: string }>('SELECT id FROM audit_schema_migrations');
    const applied = new Set(done.rows.map((r) => r.id));
    const ran: string[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.id)) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO audit_schema_migrations (id) VALUES ($1)', [migration.id]);
      ran.push(migration.id);
    }
    return ran;
  });
}
