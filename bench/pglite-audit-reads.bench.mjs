#!/usr/bin/env node
// Embedded mode's audit store (PGlite) on a trail that grew after its statements were prepared,
// with and without the planner statistics it keeps (ANALYZE as rows are recorded, see
// libs/audit/src/pglite-planner-statistics.ts). Prints figures; never asserts on time.
//   Two stores in one process; each records 10 requests' submissions and reads 10 unknown ids
//   (the router's request-id check at each new POST: the statement is prepared on a small trail),
//   then records --rows more rows. Then, --rounds times, alternating, reads 200 unknown ids from
//   each: CPU ms per read, median of the rounds.
//   npm run bench:pglite-audit-reads -- [--rows 4000] [--rounds 10]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// The contracts' payload classes carry class-transformer decorators, which need reflect-metadata.
require('reflect-metadata');
const { PgliteAuditStore } = require(join(root, 'libs/audit/dist/index.js'));
const { values } = parseArgs({
  options: { rows: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '10' } },
});
const rows = Math.max(100, Number(values.rows) || 4000);
const rounds = Math.max(1, Number(values.rounds) || 10);
const READS = 200;

let offset = 0;
const record = (store, k) =>
  store.record(
    {
      id: `e-${k}`,
      source: '/llmbus/router',
      type: 'llmbus.request.submitted',
      specversion: '1.0',
      time: new Date().toISOString(),
      correlationid: `r-${k}`,
      tenantid: 'demo',
      schemaversion: 1,
      data: { requestId: `r-${k}`, submissionDigest: 'd' },
    },
    { topic: 'orchestration.request.v1', partition: 0, offset: String(offset++) },
  );

async function grownStore(keepStatistics) {
  const store = await PgliteAuditStore.open();
  // Without statistics: the store as before, never analysed.
  if (!keepStatistics) store.plannerStatistics.rowsWritten = () => undefined;
  for (let k = 0; k < 10; k++) {
    await record(store, k);
    await store.eventById('demo', `unknown-${k}`);
  }
  for (let k = 10; k < rows; k += 50)
    await Promise.all(Array.from({ length: Math.min(50, rows - k) }, (_, i) => record(store, k + i)));
  await store.plannerStatistics.settled();
  return store;
}

const stores = { 'never analysed': await grownStore(false), 'analysed as it grows': await grownStore(true) };
const perRead = Object.fromEntries(Object.keys(stores).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, store] of Object.entries(stores)) {
    const before = process.cpuUsage();
    for (let i = 0; i < READS; i++) await store.eventById('demo', `unknown-${round}-${i}`);
    const used = process.cpuUsage(before);
    perRead[name].push((used.user + used.system) / 1000 / READS);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `PGlite audit store, ${rows} rows, request-id check of an unknown id (${rounds} rounds of ${READS}, alternated):`,
);
for (const [name, xs] of Object.entries(perRead))
  console.log(
    `  ${name.padEnd(22)} ${median(xs).toFixed(3)} ms CPU per read (median; min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)})`,
  );
for (const store of Object.values(stores)) await store.close();
