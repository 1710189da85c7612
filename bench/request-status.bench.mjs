#!/usr/bin/env node
// Request status reads (GET /v1/requests/:id) on a large audit table in PostgreSQL, from the
// compiled audit lib (`npm run bench:request-status` builds it). Prints figures; never asserts
// on time. Works in a throwaway schema of DATABASE_URL and drops it at the end.
//   1. Loads --events rows (default 2,000,000): requests of 8 events each (submitted, routed,
//      retrieved, generated, completed or failed, and a few reviews) spread over 50 tenants.
//   2. Reads --queries statuses (default 1,000) of random known requests, and as many unknown
//      ids, through PostgresAuditStore.reader: p50/p99/max.
//   3. Prints EXPLAIN (ANALYZE, BUFFERS) of one read: one index range on audit_events_trail.
//   node bench/request-status.bench.mjs [--events 2000000] [--queries 1000]
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// The contracts' payload classes carry class-transformer decorators, which need reflect-metadata.
require('reflect-metadata');
const { PostgresAuditStore } = require(join(root, 'libs/audit/dist/index.js'));
const { REQUEST_STATUS_SQL, requestStatusParams } = require(join(root, 'libs/audit/dist/request-status.js'));
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    queries: { type: 'string', default: '1000' },
  },
});
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('DATABASE_URL is not set: eval "$(infra/up.sh --env)" or point it at a PostgreSQL\n');
  process.exit(1);
}
const EVENTS_PER_REQUEST = 8;
const TENANTS = 50;
const events = Math.max(EVENTS_PER_REQUEST, Number(values.events) || 2_000_000);
const requests = Math.floor(events / EVENTS_PER_REQUEST);
const queryCount = Math.max(10, Number(values.queries) || 1000);
const BATCH_REQUESTS = 25_000;
const schema = `audit_bench_${randomBytes(6).toString('hex')}`;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const fmt = (ms) => `${ms.toFixed(2)} ms`;
const tenantOf = (r) => `tenant-${r % TENANTS}`;

// Request r: its 8 events as (slot, type) pairs; every 10th request was reviewed, every 20th failed.
const LOAD_SQL = `
INSERT INTO audit_events (event_id, tenant_id, correlation_id, type, source, spec_version, schema_version,
  topic, topic_partition, topic_offset, event_time, payload)
SELECT 'e-' || r || '-' || slot, 'tenant-' || (r % ${TENANTS}), 'req-' || r,
  CASE slot
    WHEN 0 THEN 'llmbus.request.submitted' WHEN 1 THEN 'llmbus.request.routed'
    WHEN 2 THEN 'llmbus.context.retrieved' WHEN 3 THEN 'llmbus.response.generated'
    WHEN 4 THEN CASE WHEN r % 10 = 0 THEN 'llmbus.review.requested' ELSE 'llmbus.response.generated' END
    WHEN 5 THEN CASE WHEN r % 10 = 0 THEN 'llmbus.review.decided' ELSE 'llmbus.regeneration.requested' END
    WHEN 6 THEN 'llmbus.response.generated'
    ELSE CASE WHEN r % 20 = 0 THEN 'llmbus.request.failed' ELSE 'llmbus.request.completed' END
  END,
  '/llmbus/bench', '1.0', 1, 'orchestration.bench.v1', r % 6, r * 8 + slot,
  timestamptz '2026-01-01' + make_interval(secs => r * 0.01 + slot * 0.001),
  CASE
    WHEN slot = 7 AND r % 20 = 0 THEN jsonb_build_object('requestId', 'req-' || r, 'code', 'model_error',
      'message', 'the model did not answer', 'stage', 'generator', 'details', jsonb_build_array())
    WHEN slot = 7 THEN jsonb_build_object('requestId', 'req-' || r, 'workflow',
      jsonb_build_object('id', 'support-ticket', 'version', 1), 'output',
      jsonb_build_object('reply', repeat('Use the reset link. ', 20), 'category', 'account'),
      'citations', jsonb_build_array('kb-1', 'kb-2'), 'acceptedBy', 'validator')
    WHEN slot = 4 AND r % 10 = 0 THEN jsonb_build_object('requestId', 'req-' || r, 'reason', 'low confidence',
      'context', jsonb_build_object('workflow', jsonb_build_object('id', 'support-ticket', 'version', 1)))
    ELSE jsonb_build_object('requestId', 'req-' || r, 'context',
      jsonb_build_object('workflow', jsonb_build_object('id', 'support-ticket', 'version', 1)),
      'text', repeat('x', 200))
  END
FROM generate_series($1::bigint, $2::bigint) AS r, generate_series(0, 7) AS slot`;

async function main() {
  const writer = await PostgresAuditStore.open({ connectionString: databaseUrl, schema, maxConnections: 2 });
  const reader = PostgresAuditStore.reader({ connectionString: databaseUrl, schema, maxConnections: 2 });
  try {
    process.stdout.write(
      `loading ${events.toLocaleString('en')} events (${requests.toLocaleString('en')} requests, ${TENANTS} tenants) into schema ${schema}\n`,
    );
    const loadStart = performance.now();
    for (let first = 0; first < requests; first += BATCH_REQUESTS) {
      const last = Math.min(requests, first + BATCH_REQUESTS) - 1;
      await writer.pool.query(LOAD_SQL, [first, last]);
      const done = (last + 1) * EVENTS_PER_REQUEST;
      const seconds = (performance.now() - loadStart) / 1000;
      process.stdout.write(`  ${done.toLocaleString('en')} events, ${seconds.toFixed(0)} s\r`);
    }
    await writer.pool.query('ANALYZE audit_events');
    const { rows: size } = await writer.pool.query(
      `SELECT pg_size_pretty(pg_total_relation_size('audit_events')) AS total, count(*)::int AS events FROM audit_events`,
    );
    process.stdout.write(
      `\nloaded in ${((performance.now() - loadStart) / 1000).toFixed(0)} s: ${size[0].events.toLocaleString('en')} rows, ${size[0].total} with indexes\n`,
    );

    await reader.requestStatus(tenantOf(0), 'req-0'); // connects; not timed
    const timings = { known: [], unknown: [] };
    const statuses = new Map();
    for (let i = 0; i < queryCount; i++) {
      const r = Math.floor(Math.random() * requests);
      let start = performance.now();
      const view = await reader.requestStatus(tenantOf(r), `req-${r}`);
      timings.known.push(performance.now() - start);
      statuses.set(view?.status, (statuses.get(view?.status) ?? 0) + 1);
      start = performance.now();
      // A known id asked by another tenant: the answer a foreign or missing request gets.
      const foreign = await reader.requestStatus(tenantOf(r + 1), `req-${r}`);
      timings.unknown.push(performance.now() - start);
      if (foreign !== undefined) throw new Error(`tenant ${tenantOf(r + 1)} saw req-${r}`);
    }
    for (const [name, list] of Object.entries(timings)) {
      const sorted = [...list].sort((a, b) => a - b);
      process.stdout.write(
        `requestStatus, ${name === 'known' ? 'known request  ' : "another tenant's"} (${sorted.length}): p50 ${fmt(percentile(sorted, 0.5))}  p99 ${fmt(percentile(sorted, 0.99))}  max ${fmt(sorted[sorted.length - 1])}\n`,
      );
    }
    process.stdout.write(`statuses read: ${[...statuses].map(([s, n]) => `${s} ${n}`).join(', ')}\n`);
    const probe = Math.floor(requests / 2);
    const { rows: plan } = await writer.pool.query(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${REQUEST_STATUS_SQL}`,
      requestStatusParams(tenantOf(probe), `req-${probe}`),
    );
    process.stdout.write(
      `\nEXPLAIN (ANALYZE, BUFFERS) of one read:\n${plan.map((r) => `  ${r['QUERY PLAN']}`).join('\n')}\n`,
    );
  } finally {
    await reader.close();
    await writer.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await writer.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
