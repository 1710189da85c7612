#!/usr/bin/env node
// What the Kafka client itself costs: the same four-hop relay as bench:pipeline's baseline (four
// processes, each consuming one topic and producing every message to the next with acks=all and
// an idempotent producer, committing each offset after its produce resolved), written once with
// kafkajs and once with @platformatic/kafka, run alternately on the same broker at the same rate.
// The driver (submitting producer and the tap on the last topic) is kafkajs in both runs and is
// not counted; the bench prints, per run and as medians per client, p50/p95 latency (submit to
// the last topic's record), achieved throughput and CPU per message of the four hop processes and
// of the broker (from /proc/<pid>/stat, every thread), with the load average at the start of each
// run. It prints figures and never asserts on time.
//
// Needs Kafka: KAFKA_BROKERS (e.g. `source` the infra env); the broker's pid from
// LLMBUS_RUN_DIR/kafka/kafka.pid or --broker-pid. Topics get a unique prefix and are deleted after.
//   npm run bench:kafka-client -- --rate 20 --count 400 --rounds 2
//   npm run bench:kafka-client -- --rate 500 --count 2000 --rounds 2      (saturation)
// Options: --clients kafkajs,platformatic  --partitions 6  --warmup 100  --concurrency 6
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, kafkajsRelayHop, percentile, spawnNode, stopProcess } from './pipeline-support.mjs';
import { createTopicsAndWait } from '../infra/kafka-topics.mjs';

const require = createRequire(import.meta.url);
const { Kafka, logLevel } = require('kafkajs');

const CLIENTS = ['kafkajs', 'platformatic'];

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      rate: { type: 'string', default: '20' },
      count: { type: 'string', default: '400' },
      warmup: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '2' },
      partitions: { type: 'string', default: '6' },
      concurrency: { type: 'string', default: '6' },
      clients: { type: 'string', default: CLIENTS.join(',') },
      'broker-pid': { type: 'string' },
      hop: { type: 'string' },
      prefix: { type: 'string' },
      client: { type: 'string' },
    },
  }));
} catch (error) {
  console.error(`bench:kafka-client: ${error.message} (the options are listed at the top of the file)`);
  process.exit(1);
}

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
if (brokers.length === 0) {
  console.error('bench:kafka-client needs KAFKA_BROKERS');
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// A relay hop (child process): consume <prefix>relay.<hop>, produce each record to relay.<hop+1>,
// commit its offset once the produce resolved. Records of one partition are handled one after the
// other, up to --concurrency partitions at once. Prints "ready" once its consumer joined. The
// kafkajs hop is bench:pipeline's (kafkajsRelayHop in pipeline-support.mjs); this is its twin.
async function platformaticHop(hop, prefix, concurrency) {
  const { Consumer, Producer, ProduceAcks } = await import('@platformatic/kafka');
  const producer = new Producer({
    clientId: `${prefix}relay-${hop}-producer`,
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
  });
  const consumer = new Consumer({
    clientId: `${prefix}relay-${hop}`,
    groupId: `${prefix}relay-${hop}`,
    bootstrapBrokers: brokers,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    maxWaitTime: 200,
    autocommit: false,
  });
  const stream = await consumer.consume({
    topics: [`${prefix}relay.${hop}`],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
  });
  // One promise chain per partition keeps each partition's order; the stream is paused while
  // more than `concurrency` partitions have records queued, so no more run at once.
  const chains = new Map();
  const queued = new Map();
  const release = (key) => {
    const left = queued.get(key) - 1;
    if (left === 0) queued.delete(key);
    else queued.set(key, left);
    if (stream.isPaused() && queued.size < concurrency) stream.resume();
  };
  stream.on('data', (message) => {
    const key = message.partition;
    queued.set(key, (queued.get(key) ?? 0) + 1);
    if (queued.size >= concurrency) stream.pause();
    const next = (chains.get(key) ?? Promise.resolve()).then(async () => {
      await producer.send({
        messages: [
          {
            topic: `${prefix}relay.${hop + 1}`,
            key: message.key,
            value: message.value,
            headers: message.headers,
          },
        ],
      });
      await message.commit();
    });
    const settled = next.then(
      () => release(key),
      (error) => {
        console.error(`hop ${hop}: ${error.message}`);
        release(key);
      },
    );
    chains.set(key, settled);
  });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void Promise.allSettled([stream.close(), consumer.close(), producer.close()]).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------
function brokerPid() {
  if (args['broker-pid']) return Number(args['broker-pid']);
  const file = join(process.env.LLMBUS_RUN_DIR ?? join(tmpdir(), 'llmbus-infra'), 'kafka', 'kafka.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
}

function ceHeaders(id) {
  return {
    'content-type': 'application/json',
    ce_id: randomUUID(),
    ce_source: '/upstream/bench',
    ce_type: 'llmbus.request.submitted',
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: id,
    ce_tenantid: 'bench',
  };
}

/** Offers `count` records at `rate`/s; resolves with latencies, throughput and CPU per process. */
async function drive({ rate, count, send, completions, processes }) {
  const sentAt = new Array(count);
  const doneAt = new Array(count);
  let completed = 0;
  let lastDone = 0;
  completions.onDone = (i) => {
    if (i < 0 || i >= count || doneAt[i] !== undefined || sentAt[i] === undefined) return;
    doneAt[i] = lastDone = performance.now();
    completed += 1;
  };
  const before = new Map(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
  const t0 = performance.now();
  const sends = [];
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt[i] = performance.now();
    sends.push(send(i));
  }
  await Promise.all(sends);
  const until = Date.now() + 180_000;
  while (completed < count && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const after = new Map(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
  const latencies = [];
  for (let i = 0; i < count; i++) if (doneAt[i] !== undefined) latencies.push(doneAt[i] - sentAt[i]);
  latencies.sort((a, b) => a - b);
  const seconds = ((completed === count ? lastDone : performance.now()) - t0) / 1000;
  const cpu = {};
  for (const p of processes) cpu[p.name] = after.get(p.name) - before.get(p.name);
  return {
    count,
    completed,
    throughput: completed / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    cpu,
  };
}

async function runRelay({ client, kafka, admin, rate, count, warmup, partitions, concurrency, pid }) {
  const prefix = `kcb-${process.pid}-${randomBytes(3).toString('hex')}.`;
  const topics = [0, 1, 2, 3, 4].map((i) => `${prefix}relay.${i}`);
  const cleanups = [];
  try {
    await createTopicsAndWait(
      admin,
      topics.map((topic) => ({ topic, numPartitions: partitions })),
    );
    cleanups.push(() => admin.deleteTopics({ topics }));
    const script = fileURLToPath(import.meta.url);
    const hops = await Promise.all(
      [0, 1, 2, 3].map((hop) =>
        spawnNode(
          `hop${hop + 1}`,
          script,
          [
            '--hop',
            String(hop),
            '--prefix',
            prefix,
            '--client',
            client,
            '--concurrency',
            String(concurrency),
          ],
          { KAFKAJS_NO_PARTITIONER_WARNING: '1' },
          'ready',
        ),
      ),
    );
    cleanups.push(() => Promise.all(hops.map(stopProcess)));
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    const completions = {};
    const phase = { base: 'w' };
    const tap = kafka.consumer({ groupId: `${prefix}tap`, maxWaitTimeInMs: 50, sessionTimeout: 30_000 });
    await tap.connect();
    cleanups.push(() => tap.disconnect());
    await tap.subscribe({ topics: [topics[4]], fromBeginning: true });
    const joined = new Promise((resolve) => tap.on(tap.events.GROUP_JOIN, resolve));
    await tap.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = message.key?.toString() ?? '';
          if (key.startsWith(phase.base)) completions.onDone?.(Number(key.slice(phase.base.length)));
        }
      },
    });
    await joined;
    const payload = JSON.stringify({ requestId: 'relay', text: 'x'.repeat(400) });
    const send = (base) => (i) =>
      producer.send({
        topic: topics[0],
        acks: -1,
        messages: [{ key: `${base}${i}`, value: payload, headers: ceHeaders(`${base}${i}`) }],
      });
    const processes = [...hops, ...(pid ? [{ name: 'broker', pid }] : [])];
    if (warmup > 0) await drive({ rate, count: warmup, send: send('w'), completions, processes });
    phase.base = 'm';
    const load = loadavg()[0];
    const result = await drive({ rate, count, send: send('m'), completions, processes });
    return { ...result, load };
  } finally {
    for (const cleanup of cleanups.reverse())
      await Promise.resolve()
        .then(cleanup)
        .catch(() => undefined);
  }
}

function perMessage(r, names) {
  let total = 0;
  for (const [name, s] of Object.entries(r.cpu)) if (names(name) && Number.isFinite(s)) total += s;
  return (total * 1000) / r.completed;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const rate = Number(args.rate);
  const count = Number(args.count);
  const warmup = Number(args.warmup);
  const rounds = Number(args.rounds);
  const partitions = Number(args.partitions);
  const concurrency = Number(args.concurrency);
  const clients = args.clients.split(',');
  for (const c of clients) if (!CLIENTS.includes(c)) throw new Error(`--clients: unknown client ${c}`);
  const pid = brokerPid();
  console.log(
    `bench:kafka-client: ${count} records at ${rate}/s (warm-up ${warmup}), ${partitions} partitions, ` +
      `${rounds} round(s) of ${clients.join(', ')} alternated; broker pid ${pid ?? 'unknown (not counted)'}`,
  );
  const kafka = new Kafka({ brokers, clientId: 'kafka-client-bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const results = Object.fromEntries(clients.map((c) => [c, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const client of round % 2 === 0 ? clients : [...clients].reverse()) {
        const r = await runRelay({ client, kafka, admin, rate, count, warmup, partitions, concurrency, pid });
        results[client].push(r);
        const hopsCpu = perMessage(r, (n) => n !== 'broker');
        const brokerCpu = perMessage(r, (n) => n === 'broker');
        console.log(
          `  round ${round + 1} ${client.padEnd(12)} load ${r.load.toFixed(1).padStart(5)}  ${r.completed}/${r.count}` +
            `  p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  ${r.throughput.toFixed(1)}/s` +
            `  CPU ms/msg: hops ${hopsCpu.toFixed(2)}, broker ${brokerCpu.toFixed(2)}`,
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
  console.log('\nmedians:');
  console.log(
    `  ${'client'.padEnd(12)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'msg/s'.padStart(8)} ` +
      `${'hops ms/msg'.padStart(12)} ${'broker ms/msg'.padStart(14)} ${'load'.padStart(6)}`,
  );
  for (const client of clients) {
    const rs = results[client];
    console.log(
      `  ${client.padEnd(12)} ${median(rs.map((r) => r.p50))
        .toFixed(1)
        .padStart(8)} ${median(rs.map((r) => r.p95))
        .toFixed(1)
        .padStart(8)} ` +
        `${median(rs.map((r) => r.throughput))
          .toFixed(1)
          .padStart(8)} ` +
        `${median(rs.map((r) => perMessage(r, (n) => n !== 'broker')))
          .toFixed(2)
          .padStart(12)} ` +
        `${median(rs.map((r) => perMessage(r, (n) => n === 'broker')))
          .toFixed(2)
          .padStart(14)} ` +
        `${median(rs.map((r) => r.load))
          .toFixed(1)
          .padStart(6)}`,
    );
  }
}

if (args.hop !== undefined) {
  const hop = Number(args.hop);
  const concurrency = Number(args.concurrency);
  await (args.client === 'platformatic'
    ? platformaticHop(hop, args.prefix, concurrency)
    : kafkajsRelayHop({ brokers, hop, prefix: args.prefix, concurrency }));
} else {
  await main();
  process.exit(0);
}
