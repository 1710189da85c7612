#!/usr/bin/env node
// CPU cost of decoding one consumed event (the consumer edge of every stage): CloudEvents headers
// and JSON value in, validated envelope out. `before` runs attributes and payload through
// class-transformer and class-validator (the previous path, still what describes a refusal);
// `after` runs the validators compiled once with ajv from the contract JSON Schemas, as the bus
// does now (the
// row `bus decodeEvent` is the bus's own decoder, size and UTF-8 checks included). Same events,
// same run, interleaved rounds. Prints median µs and CPU µs per event; never asserts on time.
// Needs the compiled contracts and bus (`npm run bench:decode` builds them).
//   node bench/decode.bench.mjs [--events 2000] [--rounds 7] [--passages 8]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const contracts = require('../contracts/dist/index.js');
const { samplePayloads } = require('../contracts/dist/testing/sample-payloads.js');
const { decodeEvent } = require('../libs/bus/dist/index.js');

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '7' },
    passages: { type: 'string', default: '8' },
  },
});
const events = Math.max(50, Math.min(100_000, Number(values.events) || 2000));
const rounds = Math.max(3, Math.min(31, Number(values.rounds) || 7));
const passages = Math.max(0, Math.min(100, Number(values.passages) ?? 8));
const samples = samplePayloads(passages);

/** A consumed Kafka record (binary content mode) carrying `payload` as event `definition`. */
function record(definition, payload) {
  const headers = contracts.attributesToHeaders({
    id: 'evt-0001',
    source: '/llmbus/router',
    type: definition.type,
    specversion: '1.0',
    time: '2026-01-01T12:00:00.000Z',
    correlationid: 'req-0001',
    causationid: 'evt-0000',
    tenantid: 'acme',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    schemaversion: definition.schemaVersion,
    attempt: 1,
  });
  return {
    topic: definition.topic.name,
    partition: 0,
    offset: '0',
    key: 'req-0001',
    headers,
    value: Buffer.from(JSON.stringify(payload)),
  };
}

/** The decoder's steps with given validators: decode the record, check attributes, then payload. */
function decodeWith(validateAttributes, validate) {
  return (message) => {
    const event = contracts.decodeMessage(message.headers, message.value.toString('utf8'));
    const attrs = validateAttributes(event.attributes);
    if (!attrs.ok) throw new Error(attrs.errors.join('; '));
    const payload = validate(contracts.eventByType(attrs.value.type), event.data);
    if (!payload.ok) throw new Error(payload.errors.join('; '));
    return { ...attrs.value, data: payload.value };
  };
}

const paths = {
  'before (class-validator)': decodeWith(
    contracts.validateAttributesWithDecorators,
    contracts.validatePayloadWithDecorators,
  ),
  'after (ajv)': decodeWith(contracts.validateAttributes, contracts.validatePayload),
  'bus decodeEvent (ajv)': (message) => {
    const decoded = decodeEvent(message, { maxEventBytes: 1 << 20, logicalTopic: message.topic });
    if (!decoded.ok) throw new Error(decoded.rejection.reason);
    return decoded.envelope;
  },
};

const cases = [
  ['RequestSubmitted (small)', record(contracts.RequestSubmittedEvent, samples.RequestSubmitted)],
  [
    `ContextRetrieved (${passages} passages)`,
    record(contracts.ContextRetrievedEvent, samples.ContextRetrieved),
  ],
  [
    `ResponseGenerated (${passages} passages)`,
    record(contracts.ResponseGeneratedEvent, samples.ResponseGenerated),
  ],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Decodes the record `events` times; returns wall and CPU microseconds per event. */
function measure(decode, message) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events; i++) decode(message);
  const wallUs = Number(process.hrtime.bigint() - start) / 1e3 / events;
  const used = process.cpuUsage(cpu);
  return { wallUs, cpuUs: (used.user + used.system) / events };
}

console.log(
  `decode bench: ${events} events x ${rounds} rounds per path and event, Node ${process.version}, ${passages} passages\n`,
);
console.log('| event | bytes | path | median µs/event | median CPU µs/event | CPU speed-up |');
console.log('|---|---|---|---|---|---|');
for (const [name, message] of cases) {
  // Warm up (and compile each path's validators) before measuring.
  for (const decode of Object.values(paths)) for (let i = 0; i < 200; i++) decode(message);
  const results = Object.fromEntries(Object.keys(paths).map((p) => [p, { wall: [], cpu: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const [path, decode] of Object.entries(paths)) {
      const { wallUs, cpuUs } = measure(decode, message);
      results[path].wall.push(wallUs);
      results[path].cpu.push(cpuUs);
    }
  }
  // CPU time is the figure to compare: wall time also counts other processes on a busy machine.
  const before = median(results['before (class-validator)'].cpu);
  for (const [path, { wall, cpu }] of Object.entries(results)) {
    const c = median(cpu);
    console.log(
      `| ${name} | ${message.value.length} | ${path} | ${median(wall).toFixed(1)} | ${c.toFixed(1)} | ${(before / c).toFixed(1)}x |`,
    );
  }
}
