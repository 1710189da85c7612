#!/usr/bin/env node
// CPU per event, A/B in this one process: `old` and `new` alternate round by round over the same
// kind of input (fresh texts each round, so no cache answers), and the medians of the rounds are
// printed. Prints figures; never asserts on time.
//
//   compromise sweep   the cut: tagging one ticket line with compromise (the router's and auditor's
//                      costliest call). `old` compromise's own bulkMatch, which walks every key of
//                      its rule net per sentence; `new` the narrowed lookup installed by libs/pii
//                      (libs/pii/src/compromise-sweep.ts), the same tags by construction and by
//                      compromise-sweep.spec.ts.
//   auditor pair       not a cut, the ceiling of one left alone: the auditor masking a submitted
//                      request and its RequestRouted (which carries the router's llmbus_pii
//                      attestation). `old` the submitted request first, as the auditor handles them
//                      (its text tagged again); `new` the RequestRouted first (the text answered
//                      from the verified attestation). Per request, both events. Handling them in
//                      that order would chain an effect before its cause in the audit trail, so the
//                      auditor does not (see README, Personal data).
//
// Needs the compiled libs and auditor (`npm run bench:stage-cuts` builds them).
//   node bench/stage-cuts.bench.mjs [--rounds 15] [--per-round 40]
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const pii = require('../libs/pii/dist/index.js');
const { AuditPrivacy } = require('../services/auditor/dist/audit-privacy.js');
const { WorkflowRegistry } = require('../libs/workflows/dist/index.js');
const { RequestRoutedEvent, RequestSubmittedEvent } = require('../contracts/dist/index.js');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    'per-round': { type: 'string', default: '40' },
  },
});
const rounds = Math.max(10, Math.min(101, Number(values.rounds) || 15));
const perRound = Math.max(5, Math.min(1000, Number(values['per-round']) || 40));

/** A ticket body like the pipeline bench's, unique per call (no cache can answer it). */
const body = () =>
  `Ticket ${randomUUID()}: Hello, this is Oliver Twist from Leeds. I clicked Forgot password twice but no email came. How do I get into my account?`;

/** CPU µs (user + system) per item of `work(n)`. */
function cpuPerItem(work) {
  const start = process.cpuUsage();
  work(perRound);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / perRound;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Alternates `old` and `new` for `rounds` rounds after one warm-up round each; prints medians. */
function ab(name, unit, variants) {
  for (const v of Object.values(variants)) cpuPerItem(v);
  const times = { old: [], new: [] };
  for (let r = 0; r < rounds; r++) {
    for (const key of r % 2 === 0 ? ['old', 'new'] : ['new', 'old'])
      times[key].push(cpuPerItem(variants[key]));
  }
  const [o, n] = [median(times.old), median(times.new)];
  console.log(
    `${name.padEnd(20)} old ${o.toFixed(0).padStart(6)} µs  new ${n.toFixed(0).padStart(6)} µs  per ${unit}` +
      `  (${(((o - n) / o) * 100).toFixed(1)} % less; medians of ${rounds} rounds x ${perRound})`,
  );
}

// --- compromise sweep -------------------------------------------------------------------------
const world = pii.compromiseWorld();
const tagLines = (bulkMatch) => (n) => {
  world.methods.one.bulkMatch = bulkMatch;
  try {
    const detector = new pii.CompromisePersonDetector();
    for (let i = 0; i < n; i++) detector.detect(body());
  } finally {
    world.methods.one.bulkMatch = pii.NARROWED_BULK_MATCH;
  }
};

// --- auditor pair -----------------------------------------------------------------------------
const key = randomBytes(32);
const attestations = new pii.PiiAttestations(key, pii.COMPROMISE_DETECTOR);
const privacy = new AuditPrivacy(new WorkflowRegistry([]), key);
const envelope = (type, data) => ({
  id: randomUUID(),
  source: type === RequestSubmittedEvent.type ? 'bench/upstream' : 'llmbus/router',
  type,
  specversion: '1.0',
  time: new Date().toISOString(),
  tenantid: 'acme',
  correlationid: data.requestId,
  schemaversion: 1,
  data,
});
/** n requests: each a submitted request, its RequestRouted, and the router's header (made by a detector of its own). */
async function requests(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const input = { subject: 'Password reset email never arrives', body: body(), product: 'Acme Sync' };
    const header = await attestations.consume({}, async () => {
      new pii.CompromisePersonDetector().detect(Object.values(input).join('\n'));
      return attestations.publishHeaders()[pii.PII_ATTESTATION_HEADER];
    });
    const requestId = randomUUID();
    out.push({
      submitted: envelope(RequestSubmittedEvent.type, { requestId, input }),
      routed: envelope(RequestRoutedEvent.type, { requestId, input }),
      header,
    });
  }
  return out;
}
/** Masks each request's two events in `order`, each in the attestation scope of its own message. */
const maskPairs = (batches, order) => (n) => {
  for (const { submitted, routed, header } of batches.shift().slice(0, n)) {
    const asSubmitted = () => attestations.consume({}, async () => privacy.forStorage(submitted));
    const asRouted = () =>
      attestations.consume({ [pii.PII_ATTESTATION_HEADER]: header }, async () => privacy.forStorage(routed));
    // consume runs the handling synchronously up to its first await, and forStorage has none.
    if (order === 'submitted-first') {
      void asSubmitted();
      void asRouted();
    } else {
      void asRouted();
      void asSubmitted();
    }
  }
};

console.log(
  `bench:stage-cuts: load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, node ${process.version}`,
);
ab('compromise sweep', 'ticket line', {
  old: tagLines(pii.ORIGINAL_BULK_MATCH),
  new: tagLines(pii.NARROWED_BULK_MATCH),
});
const batches = { old: [], new: [] };
for (const k of ['old', 'new']) for (let r = 0; r <= rounds; r++) batches[k].push(await requests(perRound));
ab('auditor pair', 'request', {
  old: maskPairs(batches.old, 'submitted-first'),
  new: maskPairs(batches.new, 'routed-first'),
});
