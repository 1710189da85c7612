#!/usr/bin/env node
// What the pipeline costs beyond the bus itself. In one run, on the same broker:
//   1. a raw kafkajs relay: four processes, each consuming one topic and producing every message
//      to the next (consume, produce with acks=all, commit after produce), the same four hops a
//      request takes from orchestration.request.v1 to its RequestCompleted;
//   2. the five llmbus stages as service processes, with an instant OpenAI-compatible model server
//      (in this process) and the sample documents indexed by the retriever.
// Both are driven at a fixed rate for a fixed count; the bench prints p50/p95/p99 latency (submit
// to the last hop's record / RequestCompleted), achieved throughput, CPU per request of each
// process (from /proc/<pid>/stat, so every thread counts) and the ratios llmbus / relay.
// It prints figures and never asserts on time.
//
// Needs Kafka and PostgreSQL (the auditor's store): KAFKA_BROKERS and DATABASE_URL, e.g.
//   eval "$(infra/up.sh --env)"; npm run bench:pipeline -- --rate 20 --count 400
// Broker CPU is reported when its pid is known: LLMBUS_RUN_DIR/kafka/kafka.pid (infra/up.sh) or --broker-pid.
//
// Options of every mode: --rate 20 (requests/s), --count 400, --warmup 100, --model-latency-ms 0,
// --embedding-latency-ms 0, --stage-env VAR=value (repeatable: set on every stage process),
// --cpu-prof DIR (a .cpuprofile per stage), --broker-pid PID, --no-relay, --no-pipeline, --help.
//
// Modes:
//   --replicas generator=4 --model-latency-ms 200   stage scaling: the same load with one replica of
//                                                  the stage, then with N; prints the efficiency
//                                                  (the latency is the chat model's; embeddings
//                                                  answer at once unless --embedding-latency-ms)
//   --kill generator|all|router,validator [--kill-signal SIGKILL] [--kill-replica]
//                                                  one round of --count requests per named stage: the
//                                                  stage's process is killed 5 s into the round (or
//                                                  half-way if the round is shorter) and started again
//                                                  at once; prints when the process logged it started,
//                                                  when its group was Stable, when completions were
//                                                  back to the offered rate (first 1 s window with at
//                                                  least 90 % of it), the longest pause, when the
//                                                  backlog drained. --kill-replica (or --replicas
//                                                  S=2 for one stage) starts a second replica first
//                                                  and kills one of the two without restart (the
//                                                  rebalance alone)
//   --startup all|router,...                       after the warm-up, stops each named stage (SIGTERM),
//                                                  produces one request, starts the stage again and
//                                                  prints exec -> "started" log, -> group Stable, ->
//                                                  that request's RequestCompleted (its first event)
//   --embedded                                     see bench/pipeline-embedded.mjs (npm start's
//                                                  process beside a LangChain.js chain)
// Every wait has a deadline; everything started is stopped, on 127.0.0.1 only.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cpuCount,
  cpuSeconds,
  freePort,
  kafkajsRelayHop,
  percentile,
  printHopMedians,
  tapConsumer,
  tapHopTimes,
  ROOT,
  spawnNode,
  startModelServer,
  stopProcess,
  ticket,
  writeRegistry,
  writeWorkflows,
} from './pipeline-support.mjs';
import { createTopicsAndWait } from '../infra/kafka-topics.mjs';

const require = createRequire(import.meta.url);
const { Kafka, logLevel } = require('kafkajs');

/** Refuses a bad command line: one line naming the option, exit 1, before anything has started. */
function usageError(message) {
  console.error(`bench:pipeline: ${message}`);
  process.exit(1);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      rate: { type: 'string', default: '20' },
      count: { type: 'string', default: '400' },
      warmup: { type: 'string', default: '100' },
      'model-latency-ms': { type: 'string', default: '0' },
      'embedding-latency-ms': { type: 'string', default: '0' },
      replicas: { type: 'string' },
      'no-relay': { type: 'boolean', default: false },
      'no-pipeline': { type: 'boolean', default: false },
      embedded: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '8' },
      'broker-pid': { type: 'string' },
      'stage-env': { type: 'string', multiple: true, default: [] },
      kill: { type: 'string' },
      'kill-signal': { type: 'string', default: 'SIGKILL' },
      'kill-replica': { type: 'boolean', default: false },
      startup: { type: 'string' },
      'startup-rounds': { type: 'string', default: '1' },
      'cpu-prof': { type: 'string' },
      poll: { type: 'boolean', default: false },
      'relay-hop': { type: 'string' },
      'relay-prefix': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  usageError(`${error.message} (the options are listed at the top of bench/pipeline.bench.mjs)`);
}
if (args.help) {
  // The usage is the comment at the top of this file, so that it cannot drift from a second copy.
  const usage = [];
  for (const line of readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1)) {
    if (!line.startsWith('//')) break;
    usage.push(line.replace(/^\/\/ ?/, ''));
  }
  console.log(`usage: npm run bench:pipeline -- [options]\n\n${usage.join('\n')}`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  const databaseUrl = process.env.DATABASE_URL ?? '';
  if (brokers.length === 0 || !databaseUrl) {
    console.error('bench:pipeline needs KAFKA_BROKERS and DATABASE_URL: eval "$(infra/up.sh --env)" first');
    process.exit(1);
  }
  const { rate, count, warmup, modelLatencyMs, scaling } = options;
  require('reflect-metadata');
  const contracts = require(join(ROOT, 'contracts/dist/index.js'));
  const prefix = `bench-${process.pid}-${randomBytes(2).toString('hex')}.`;
  const kafka = new Kafka({ brokers, clientId: `${prefix}bench`, logLevel: logLevel.NOTHING });
  const cleanups = [];
  const deadline = Date.now() + 30 * 60_000;
  const guard = setTimeout(() => {
    console.error('bench:pipeline: 30 min overall deadline passed; stopping');
    void cleanup(cleanups).then(() => process.exit(2));
  }, 30 * 60_000);
  guard.unref();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => void cleanup(cleanups).then(() => process.exit(130)));
  }
  const brokerPid = args['broker-pid'] ? Number(args['broker-pid']) : brokerPidFromRunDir();
  console.log(
    `bench:pipeline: ${count} requests at ${rate}/s (warm-up ${warmup}), model latency ${modelLatencyMs} ms, ` +
      `${cpuCount()} cores, broker ${brokers.join(',')}${brokerPid ? ` (pid ${brokerPid})` : ' (pid unknown: broker CPU not counted)'}`,
  );
  const results = {};
  try {
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    if (!args['no-relay']) {
      results.relay = await runRelay({
        kafka,
        admin,
        brokers,
        prefix,
        rate,
        count,
        warmup,
        brokerPid,
        cleanups,
        partitions: contracts.Topics.Request.partitions,
      });
      printRun('raw kafkajs 4-hop relay', results.relay);
      printHopMedians('relay', ['hop1', 'hop2', 'hop3', 'hop4'], results.relay.hopTimes);
    }
    if (!args['no-pipeline']) {
      results.pipeline = await runPipeline({
        kafka,
        admin,
        brokers,
        databaseUrl,
        prefix,
        rate,
        count,
        warmup,
        modelLatencyMs,
        scaling,
        brokerPid,
        contracts,
        cleanups,
        deadline,
      });
    }
    if (results.relay && results.pipeline) printRatios(results.relay, results.pipeline.rounds[0]);
  } finally {
    await cleanup(cleanups);
  }
  process.exit(0);
}

function parseReplicas(text) {
  if (!text) return undefined;
  const match = /^(router|retriever|generator|validator|auditor)=(\d+)$/.exec(text);
  if (!match || Number(match[2]) < 2 || Number(match[2]) > 12)
    usageError(`--replicas takes <stage>=<2..12>, e.g. generator=4: "${text}"`);
  return { stage: match[1], replicas: Number(match[2]) };
}

/**
 * `--name` as a number from `min` to `max` (a whole one when `integer`); refuses anything else
 * (text, NaN, out of range) naming the option, rather than running with another value.
 */
function numberOption(name, min, max, integer) {
  const text = args[name];
  const value = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  )
    usageError(`--${name}: "${text}" is not a ${integer ? 'whole number' : 'number'} from ${min} to ${max}`);
  return value;
}

/** Every option of a bench run, checked before anything starts (processes, topics, database). */
function checkedOptions() {
  const signal = args['kill-signal'];
  if (!Object.hasOwn(osConstants.signals, signal))
    usageError(`--kill-signal: "${signal}" is not a signal (e.g. SIGKILL, SIGTERM)`);
  const stageEnv = {};
  for (const pair of args['stage-env']) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) usageError(`--stage-env: "${pair}" is not VAR=value`);
    stageEnv[match[1]] = match[2];
  }
  const scaling = parseReplicas(args.replicas);
  const kill = args.kill ? stageList(args.kill, '--kill') : [];
  // Without Qdrant each retriever process keeps its own PGlite store, indexed once by whichever
  // replica took each document: a second replica would retrieve from an empty store.
  const secondRetriever =
    scaling?.stage === 'retriever'
      ? `--replicas ${args.replicas}`
      : args['kill-replica'] && kill.includes('retriever')
        ? '--kill-replica with --kill retriever'
        : undefined;
  if (secondRetriever && !process.env.QDRANT_URL)
    usageError(
      `${secondRetriever}: a second retriever replica needs a shared vector store (QDRANT_URL); with PGlite each retriever has its own, and the documents are indexed in the first one only (README "Distributed mode": one replica only)`,
    );
  return {
    rate: numberOption('rate', 1, 2000, false),
    count: numberOption('count', 10, 20_000, true),
    warmup: numberOption('warmup', 0, 1000, true),
    modelLatencyMs: numberOption('model-latency-ms', 0, 10_000, false),
    embeddingLatencyMs: numberOption('embedding-latency-ms', 0, 10_000, false),
    startupRounds: numberOption('startup-rounds', 1, 10, true),
    scaling,
    kill,
    startup: args.startup ? stageList(args.startup, '--startup') : [],
    stageEnv,
  };
}

async function cleanup(cleanups) {
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    await Promise.resolve()
      .then(step)
      .catch((error) => console.error(`cleanup: ${error.message}`));
  }
}

function brokerPidFromRunDir() {
  const file = join(process.env.LLMBUS_RUN_DIR ?? join(tmpdir(), 'llmbus-infra'), 'kafka', 'kafka.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
}

function snapshot(processes) {
  return new Map(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
}

/** Waits until `groupId` is Stable with `members` members (deadline 120 s). */
async function waitForGroup(admin, groupId, members) {
  const until = Date.now() + 120_000;
  for (;;) {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group && group.state === 'Stable' && group.members.length === members) return;
    if (Date.now() > until) {
      throw new Error(
        `group ${groupId} not Stable with ${members} member(s) (${group?.state}/${group?.members.length})`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Sends `count` messages at `rate`/s with `send(i)` (not awaiting one before the next: the rate
 * holds while the pipeline is slow) and waits until `done(i)` was reported for each, or 5 min
 * after the last send. Returns latencies (ms), the measured window and the CPU used in it.
 */
async function drive({ rate, count, send, completions, processes, label, onSent }) {
  const sentAt = new Array(count);
  const doneAt = new Array(count).fill(undefined);
  let completed = 0;
  let lastDone = 0;
  completions.onDone = (i) => {
    if (i < 0 || i >= count || doneAt[i] !== undefined || sentAt[i] === undefined) return;
    doneAt[i] = performance.now();
    lastDone = doneAt[i];
    completed += 1;
  };
  const before = snapshot(processes);
  const t0 = performance.now();
  const sends = [];
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt[i] = performance.now();
    sends.push(send(i));
    onSent?.(i);
  }
  await Promise.all(sends);
  const lastSent = performance.now();
  const until = Date.now() + 300_000;
  while (completed < count && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  const after = snapshot(processes);
  if (completed < count)
    console.log(`  ${label}: only ${completed}/${count} completed within 5 min of the last send`);
  const latencies = [];
  for (let i = 0; i < count; i++) if (doneAt[i] !== undefined) latencies.push(doneAt[i] - sentAt[i]);
  latencies.sort((a, b) => a - b);
  const seconds = ((completed === count ? lastDone : performance.now()) - t0) / 1000;
  const cpu = {};
  for (const p of processes) cpu[p.name] = after.get(p.name) - before.get(p.name);
  return {
    count,
    completed,
    offered: rate,
    sendSeconds: (lastSent - t0) / 1000,
    seconds,
    throughput: completed / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    cpu,
    sentAt,
    doneAt,
  };
}

/**
 * When completions were back to the offered rate after a kill at `at` (ms, performance.now()),
 * in 1 s windows stepped by 100 ms: `first`, the start of the first window, after completions first
 * fell below half the offered rate, holding at least 90 % of it (0 when they never fell that low);
 * `sustained`, the end of the last window before the last send holding less than 90 % of it (0 when
 * none did), i.e. from then on every window kept up. Either is undefined when it did not happen in
 * the round. `noise`: the share of windows before the kill below 90 % (a loaded machine's dips).
 */
function throughputBack(doneAt, at, offered, lastSent, firstSent) {
  const times = doneAt.filter((t) => t !== undefined).sort((a, b) => a - b);
  const inWindow = (from) => {
    let n = 0;
    for (const t of times) if (t >= from && t < from + 1000) n += 1;
    return n;
  };
  let first;
  let dipped = false;
  let sustained = 0;
  for (let from = at; from + 1000 <= lastSent; from += 100) {
    const n = inWindow(from);
    if (!dipped && n < 0.5 * offered) dipped = true;
    if (dipped && first === undefined && n >= 0.9 * offered) first = from - at;
    if (n < 0.9 * offered) sustained = from + 1000 - at;
  }
  if (!dipped) first = 0;
  if (sustained + at + 1000 > lastSent) sustained = undefined;
  let below = 0;
  let windows = 0;
  // The warm-up of the round: its first 2 s are left out (the pipeline fills).
  for (let from = firstSent + 2000; from + 1000 <= at; from += 100) {
    windows += 1;
    if (inWindow(from) < 0.9 * offered) below += 1;
  }
  return { first, sustained, noise: windows > 0 ? below / windows : undefined };
}

/**
 * What a kill did: time to the restarted process's "started" log, to a Stable group, to
 * completions back at the offered rate, the longest pause in completions, when the backlog drained
 * and the latency of the requests sent in the 10 s after it. Prints one line; returns the figures (ms).
 */
function printRecovery(stage, signal, k, r) {
  const done = r.doneAt.filter((t) => t !== undefined && t > k.at).sort((a, b) => a - b);
  let gap = 0;
  let previous = k.at;
  for (const t of done) {
    gap = Math.max(gap, t - previous);
    previous = t;
  }
  const after = [];
  for (let i = 0; i < r.count; i++) {
    if (r.sentAt[i] >= k.at && r.sentAt[i] < k.at + 10_000 && r.doneAt[i] !== undefined)
      after.push(r.doneAt[i] - r.sentAt[i]);
  }
  after.sort((a, b) => a - b);
  // Caught up: from the kill until every request sent before the group was Stable again completed.
  const backlog = r.sentAt
    .map((sent, i) => (sent < k.at + k.stableMs ? r.doneAt[i] : undefined))
    .filter((t) => t !== undefined);
  const caughtUp = Math.max(...backlog) - k.at;
  const back = throughputBack(
    r.doneAt,
    k.at,
    r.offered,
    Math.max(...r.sentAt.filter((t) => t !== undefined)),
    r.sentAt[0],
  );
  const s = (ms) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);
  const how =
    k.others > 0
      ? `one of ${k.others + 1} replicas, not restarted: group Stable with the other(s) after ${s(k.stableMs)};`
      : `restarted at once: process started after ${s(k.restartedMs)}, group Stable with it after ${s(k.stableMs)};`;
  console.log(
    `\n${signal} of ${stage} mid-run, ${how} completions back to the offered ${r.offered}/s after ${s(back.first)}, ` +
      `and kept up from ${s(back.sustained)} (below 90 % in ${back.noise === undefined ? '-' : `${(back.noise * 100).toFixed(0)} %`} of the 1 s windows before the kill); ` +
      `longest pause in completions ${s(gap)}; backlog drained ${s(caughtUp)} after the kill; ` +
      `requests sent in the 10 s after the kill: p50 ${s(percentile(after, 50))}, p99 ${s(percentile(after, 99))}`,
  );
  return {
    replicas: k.others + 1,
    startedMs: k.others > 0 ? undefined : k.restartedMs,
    stableMs: k.stableMs,
    backMs: back.first,
    sustainedMs: back.sustained,
    pauseMs: gap,
    drainedMs: caughtUp,
  };
}

/** One line per killed stage: the figures printRecovery returned, in seconds. */
function printRecoveryTable(signal, rows) {
  const s = (ms) => (ms === undefined ? '-' : (ms / 1000).toFixed(1)).padStart(8);
  console.log(
    `\nrecovery after ${signal} (seconds from the kill; rate back: first 1 s window at >= 90 % of the offered rate ` +
      `after the dip; kept up: every window after it at >= 90 % until the last send; "-": not restarted / never):`,
  );
  console.log(
    `  ${'stage'.padEnd(10)} ${'replicas'.padStart(8)} ${'started'.padStart(8)} ${'stable'.padStart(8)} ` +
      `${'rate back'.padStart(9)} ${'kept up'.padStart(8)} ${'pause'.padStart(8)} ${'drained'.padStart(8)}`,
  );
  for (const row of rows)
    console.log(
      `  ${row.stage.padEnd(10)} ${String(row.replicas).padStart(8)} ${s(row.startedMs)} ${s(row.stableMs)} ` +
        ` ${s(row.backMs)} ${s(row.sustainedMs)} ${s(row.pauseMs)} ${s(row.drainedMs)}`,
    );
}

/** `all` or comma-separated stage names, checked. */
function stageList(text, flag) {
  const stages = text === 'all' ? [...STAGES] : text.split(',').map((t) => t.trim());
  const unknown = stages.filter((t) => !STAGES.includes(t));
  if (unknown.length > 0 || stages.length === 0) {
    usageError(
      `${flag} takes all or stage names (${STAGES.join(', ')}), comma-separated: ${unknown.join(', ')}`,
    );
  }
  return stages;
}

/**
 * Start-up of each stage process, measured on a warm pipeline: the stage is stopped (SIGTERM: it
 * leaves its group), one request is produced (it waits for that stage), the stage is started again,
 * and the bench records, from just before the exec: its "started" log line, its group Stable with
 * it, and that request's first event through it (its RequestCompleted; for the auditor, its record
 * of the RequestCompleted in PostgreSQL).
 */
async function measureStartups(o) {
  const { stages, times, services, start, admin, prefix, producer, tenant, phase, completions } = o;
  const { Client } = require('pg');
  const db = new Client({ connectionString: o.dbUrl });
  await db.connect();
  const rows = [];
  try {
    for (let n = 0; n < times; n++) {
      for (const stage of stages) {
        const index = services.findIndex((p) => p.name === stage);
        await stopProcess(services[index]);
        services.splice(index, 1);
        const base = `u${n}-${stage}-`;
        const requestId = `${base}0`;
        let doneAt;
        phase.base = base;
        completions.onDone = (i) => {
          if (i === 0 && doneAt === undefined) doneAt = performance.now();
        };
        await producer.send({
          topic: `${prefix}${o.requestTopic}`,
          acks: -1,
          messages: [
            {
              key: requestId,
              value: JSON.stringify(ticket(requestId)),
              headers: ceHeaders(requestId, tenant),
            },
          ],
        });
        const execAt = performance.now();
        const proc = await start(stage, 1);
        const startedMs = performance.now() - execAt;
        const startedCpu = cpuSeconds(proc.pid);
        await waitForGroup(admin, `${prefix}llmbus.${stage}`, 1);
        const stableMs = performance.now() - execAt;
        const until = Date.now() + 120_000;
        let firstMs;
        for (;;) {
          if (stage === 'auditor') {
            const { rowCount } = await db.query(
              'SELECT 1 FROM audit_events WHERE correlation_id = $1 AND type = $2 LIMIT 1',
              [requestId, o.completedType],
            );
            if (rowCount > 0) firstMs = performance.now() - execAt;
          } else if (doneAt !== undefined) firstMs = doneAt - execAt;
          if (firstMs !== undefined || Date.now() > until) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        rows.push({ stage, startedMs, stableMs, firstMs, startedCpu, firstCpu: cpuSeconds(proc.pid) });
      }
    }
  } finally {
    await db.end();
  }
  const s = (ms) => (ms === undefined ? 'never' : (ms / 1000).toFixed(2)).padStart(10);
  const c = (seconds) => seconds.toFixed(2).padStart(10);
  console.log(
    "\nstage start-up on a warm pipeline (seconds from exec, one request waiting for the stage; CPU: the process's CPU seconds by then):",
  );
  console.log(
    `  ${'stage'.padEnd(10)} ${'"started"'.padStart(10)} ${'stable'.padStart(10)} ${'1st event'.padStart(10)} ` +
      `${'CPU start'.padStart(10)} ${'CPU 1st'.padStart(10)}`,
  );
  for (const row of rows)
    console.log(
      `  ${row.stage.padEnd(10)} ${s(row.startedMs)} ${s(row.stableMs)} ${s(row.firstMs)} ${c(row.startedCpu)} ${c(row.firstCpu)}`,
    );
}

function printRun(title, r) {
  console.log(`\n${title}: ${r.completed}/${r.count} at ${r.offered}/s offered`);
  console.log(
    `  latency p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms;` +
      `  throughput ${r.throughput.toFixed(1)}/s`,
  );
  const total = Object.values(r.cpu).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const per = Object.entries(r.cpu)
    .map(([name, s]) => `${name} ${((s * 1000) / r.completed).toFixed(2)}`)
    .join(', ');
  console.log(`  CPU ms per request: total ${((total * 1000) / r.completed).toFixed(2)} (${per})`);
}

function cpuPerRequest(r, { withBroker = true } = {}) {
  let total = 0;
  for (const [name, s] of Object.entries(r.cpu)) {
    if (!withBroker && name === 'broker') continue;
    if (Number.isFinite(s)) total += s;
  }
  return (total * 1000) / r.completed;
}

function printRatios(relay, pipeline) {
  const row = (name, a, b, unit) =>
    console.log(
      `  ${name.padEnd(34)} ${a.toFixed(2).padStart(9)} ${unit.padEnd(4)} ${b.toFixed(2).padStart(9)} ${unit.padEnd(4)} ${(b / a).toFixed(2).padStart(7)}x`,
    );
  console.log('\nllmbus / raw relay, same run, same broker:');
  console.log(
    `  ${'measure'.padEnd(34)} ${'relay'.padStart(14)} ${'llmbus'.padStart(14)} ${'ratio'.padStart(8)}`,
  );
  row('latency p50', relay.p50, pipeline.p50, 'ms');
  row('latency p95', relay.p95, pipeline.p95, 'ms');
  row('latency p99', relay.p99, pipeline.p99, 'ms');
  row('throughput', relay.throughput, pipeline.throughput, '/s');
  row('CPU per request, all processes', cpuPerRequest(relay), cpuPerRequest(pipeline), 'ms');
  row(
    'CPU per request, without the broker',
    cpuPerRequest(relay, { withBroker: false }),
    cpuPerRequest(pipeline, { withBroker: false }),
    'ms',
  );
}

// ---------------------------------------------------------------------------------------------
/** A result-topic reader: calls `completions.onDone(index)` for each record whose key maps to an index. */
function tapTopics(kafka, groupId, topics, indexOf, completions, filter = () => true) {
  return tapConsumer(kafka, groupId, topics, (batch) => {
    for (const message of batch.messages) {
      if (!filter(message)) continue;
      const index = indexOf(message.key?.toString() ?? '');
      if (index !== undefined) completions.onDone?.(index);
    }
  });
}

async function runRelay({
  kafka,
  admin,
  brokers,
  prefix,
  rate,
  count,
  warmup,
  brokerPid,
  cleanups,
  partitions,
}) {
  const topics = [0, 1, 2, 3, 4].map((i) => `${prefix}relay.${i}`);
  // As many partitions as the request-path topics it is compared with.
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
        ['--relay-hop', String(hop), '--relay-prefix', prefix],
        { KAFKA_BROKERS: brokers.join(','), KAFKAJS_NO_PARTITIONER_WARNING: '1' },
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
  const tap = await tapTopics(
    kafka,
    `${prefix}relay-tap`,
    [topics[4]],
    (key) => (key.startsWith(phase.base) ? Number(key.slice(phase.base.length)) : undefined),
    completions,
  );
  cleanups.push(() => tap.disconnect());
  const hopTap = await tapHopTimes(kafka, `${prefix}relay-hops`, topics, (key) => key.startsWith('m'));
  cleanups.push(() => hopTap.consumer.disconnect());
  const payload = JSON.stringify(ticket('relay'));
  const send = (base) => (i) =>
    producer.send({
      topic: topics[0],
      acks: -1,
      messages: [{ key: `${base}${i}`, value: payload, headers: ceHeaders(`${base}${i}`, 'bench') }],
    });
  const processes = [...hops, ...(brokerPid ? [{ name: 'broker', pid: brokerPid }] : [])];
  if (warmup > 0)
    await drive({ rate, count: warmup, send: send('w'), completions, processes, label: 'relay warm-up' });
  phase.base = 'm';
  const r = await drive({ rate, count, send: send('m'), completions, processes, label: 'relay' });
  await waitForHopTimes(hopTap.times, count);
  return { ...r, hopTimes: hopTap.times };
}

/** Waits (at most 10 s) until the hop tap has seen `count` requests on every topic of their path. */
async function waitForHopTimes(times, count) {
  const until = Date.now() + 10_000;
  const complete = () => [...times.values()].filter((row) => row.every((t) => t !== undefined)).length;
  while (complete() < count && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

// ---------------------------------------------------------------------------------------------

function ceHeaders(correlationId, tenant, type = 'llmbus.request.submitted') {
  return {
    'content-type': 'application/json',
    ce_id: randomUUID(),
    ce_source: '/upstream/bench',
    ce_type: type,
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: correlationId,
    ce_schemaversion: '1',
    ce_tenantid: tenant,
  };
}

const STAGES = ['auditor', 'retriever', 'generator', 'validator', 'router'];

async function runPipeline(o) {
  const {
    kafka,
    admin,
    brokers,
    databaseUrl,
    prefix,
    rate,
    count,
    warmup,
    modelLatencyMs,
    scaling,
    brokerPid,
    contracts,
    cleanups,
  } = o;
  const workDir = mkdtempSync(join(tmpdir(), 'llmbus-bench-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  const model = await startModelServer(modelLatencyMs, {
    embeddingLatencyMs: options.embeddingLatencyMs,
  });
  cleanups.push(() => model.stop());
  // Topics of the namespace, as the services expect them.
  const topics = contracts.TOPICS.map((t) => ({ topic: prefix + t.name, numPartitions: t.partitions }));
  await createTopicsAndWait(admin, topics);
  cleanups.push(() => admin.deleteTopics({ topics: contracts.TOPICS.map((t) => prefix + t.name) }));
  // The auditor's database, dropped at the end.
  const { Client } = require('pg');
  const dbName = `llmbus_bench_${randomBytes(4).toString('hex')}`;
  const pgAdmin = new Client({ connectionString: databaseUrl });
  await pgAdmin.connect();
  await pgAdmin.query(`CREATE DATABASE ${dbName}`);
  await pgAdmin.end();
  cleanups.push(async () => {
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
  });
  const dbUrl = new URL(databaseUrl);
  dbUrl.pathname = `/${dbName}`;
  const extraEnv = options.stageEnv;
  const env = {
    LLMBUS_MODE: 'distributed',
    KAFKA_BROKERS: brokers.join(','),
    LLMBUS_TOPIC_PREFIX: prefix,
    API_KEYS: `bench-key-${randomBytes(12).toString('hex')}:demo:admin`,
    DATABASE_URL: dbUrl.toString(),
    LLMBUS_DATA_DIR: '',
    LOG_LEVEL: 'info',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    LLMBUS_PII_KEY: randomBytes(32).toString('base64'),
    OPENAI_API_KEY: 'bench-not-a-secret',
    OPENAI_BASE_URL: model.url,
    OPENAI_CHAT_MODEL: 'bench/chat',
    OPENAI_EMBEDDING_MODEL: 'bench/embed',
    OPENAI_MAX_RETRIES: '0',
    LLMBUS_MODELS_REGISTRY: writeRegistry(workDir),
    LLMBUS_WORKFLOWS_DIR: writeWorkflows(workDir),
    ...extraEnv,
  };
  const services = [];
  cleanups.push(() => Promise.all(services.map(stopProcess)));
  const start = async (stage, replica) => {
    const started = await spawnNode(
      replica > 1 ? `${stage}#${replica}` : stage,
      join(ROOT, 'services', stage, 'dist', 'main.js'),
      [],
      {
        ...env,
        HTTP_PORT: ['router', 'auditor'].includes(stage) ? String(await freePort()) : '0',
        KAFKA_CLIENT_ID: `${prefix}${stage}-${replica}`,
        // The retriever's embedded PGlite store on disk, one per replica: a restarted retriever
        // opens its index again (in memory it would start empty and run initdb, several seconds).
        ...(stage === 'retriever' ? { LLMBUS_DATA_DIR: join(workDir, `retriever-${replica}`) } : {}),
      },
      `"msg":"${stage} started"`,
      { cpuProf: args['cpu-prof'] },
    );
    // Registered at once, so that a failed start of another stage still stops this one.
    services.push(started);
    return started;
  };
  await Promise.all(STAGES.map((stage) => start(stage, 1)));
  for (const stage of STAGES) await waitForGroup(admin, `${prefix}llmbus.${stage}`, 1);

  // Index the sample documents through Kafka, as an upstream document system does.
  const { loadSampleDocuments } = require(join(ROOT, 'services/embedded/dist/sample-documents.js'));
  const { tenant, documents } = loadSampleDocuments(join(ROOT, 'samples', 'documents'));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  cleanups.push(() => producer.disconnect());
  const indexed = new Set();
  const indexedTap = kafka.consumer({ groupId: `${prefix}bench-indexed`, maxWaitTimeInMs: 50 });
  await indexedTap.connect();
  await indexedTap.subscribe({ topic: prefix + contracts.Topics.DocumentIndexed.name, fromBeginning: true });
  await indexedTap.run({ eachMessage: async ({ message }) => void indexed.add(message.key?.toString()) });
  cleanups.push(() => indexedTap.disconnect());
  for (const doc of documents) {
    await producer.send({
      topic: prefix + contracts.Topics.DocumentIngest.name,
      acks: -1,
      messages: [
        {
          key: doc.documentId,
          value: JSON.stringify(doc),
          headers: ceHeaders(doc.documentId, tenant, contracts.DocumentSubmittedEvent.type),
        },
      ],
    });
  }
  const indexUntil = Date.now() + 120_000;
  while (documents.some((d) => !indexed.has(d.documentId))) {
    if (Date.now() > indexUntil)
      throw new Error(`documents not indexed in 120 s: ${[...indexed].join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const completions = {};
  const phase = { base: 'w-' };
  const outcomes = { completed: 0, other: new Map() };
  const completedType = contracts.RequestCompletedEvent.type;
  const tap = await tapTopics(
    kafka,
    `${prefix}bench-tap`,
    [prefix + contracts.Topics.Result.name, prefix + contracts.Topics.Review.name],
    (key) => (key.startsWith(phase.base) ? Number(key.slice(phase.base.length)) : undefined),
    completions,
    (message) => {
      const type = message.headers?.ce_type?.toString();
      if (type === completedType) return true;
      outcomes.other.set(type, (outcomes.other.get(type) ?? 0) + 1);
      return false;
    },
  );
  cleanups.push(() => tap.disconnect());
  // Where the time of a measured request goes, stage by stage (the auditor is off the path).
  const pathTopics = [
    contracts.Topics.Request,
    contracts.Topics.Routed,
    contracts.Topics.Retrieved,
    contracts.Topics.Generated,
    contracts.Topics.Result,
  ].map((t) => prefix + t.name);
  const hopTap = await tapHopTimes(
    kafka,
    `${prefix}bench-hops`,
    pathTopics,
    (key) => key.startsWith('m-'),
    (message, index) => index !== 4 || message.headers?.ce_type?.toString() === completedType,
  );
  cleanups.push(() => hopTap.consumer.disconnect());
  const send = (base) => (i) => {
    const requestId = `${base}${i}`;
    return producer.send({
      topic: prefix + contracts.Topics.Request.name,
      acks: -1,
      messages: [
        { key: requestId, value: JSON.stringify(ticket(requestId)), headers: ceHeaders(requestId, tenant) },
      ],
    });
  };
  const processes = () => [
    ...services.map((s) => ({ name: s.name.replace(/#\d+$/, ''), pid: s.pid, full: s.name })),
    ...(brokerPid ? [{ name: 'broker', pid: brokerPid }] : []),
  ];
  /** CPU per stage (replicas summed) for one measured round. */
  const round = async (label, base, n, offered, onSent) => {
    phase.base = base;
    const procs = processes().map((p) => ({ name: p.full ?? p.name, pid: p.pid }));
    const r = await drive({
      rate: offered,
      count: n,
      send: send(base),
      completions,
      processes: procs,
      label,
      onSent,
    });
    const byStage = {};
    for (const [name, s] of Object.entries(r.cpu)) {
      const stage = name.replace(/#\d+$/, '');
      byStage[stage] = (byStage[stage] ?? 0) + s;
    }
    return { ...r, cpu: byStage };
  };
  const rounds = [];
  if (warmup > 0) await round('pipeline warm-up', 'w-', warmup, rate);
  if (options.startup.length > 0) {
    await measureStartups({
      stages: options.startup,
      times: options.startupRounds,
      services,
      start,
      admin,
      prefix,
      producer,
      tenant,
      phase,
      completions,
      completedType,
      requestTopic: contracts.Topics.Request.name,
      dbUrl: dbUrl.toString(),
    });
  }
  const maxInFlightBefore = model.stats.maxInFlight;
  model.stats.maxInFlight = 0;
  /** Kills one replica of `stage` (the last of `replicas`); starts it again when it was the only one. */
  const killOne = async (stage, replicas, signal) => {
    const name = replicas > 1 ? `${stage}#${replicas}` : stage;
    const index = services.findIndex((p) => p.name === name);
    const victim = services[index];
    const at = performance.now();
    const exited = new Promise((resolve) => victim.child.once('exit', resolve));
    victim.child.kill(signal);
    await exited;
    services.splice(index, 1);
    if (replicas === 1) await start(stage, 1);
    const restartedAt = performance.now();
    await waitForGroup(admin, `${prefix}llmbus.${stage}`, Math.max(1, replicas - 1));
    return { at, restartedMs: restartedAt - at, stableMs: performance.now() - at, others: replicas - 1 };
  };
  const killStages = options.kill;
  if (killStages.length === 0) {
    rounds.push(await round('llmbus', 'm-', count, rate));
    await waitForHopTimes(hopTap.times, count);
  } else {
    const summaries = [];
    // The kill comes 5 s into the round (or half-way if the round is shorter), so that the pipeline
    // runs at the offered rate before it.
    const killIndex = Math.min(Math.floor(count / 2), Math.round(rate * 5));
    for (const stage of killStages) {
      const replicas = scaling?.stage === stage ? scaling.replicas : args['kill-replica'] ? 2 : 1;
      for (let replica = 2; replica <= replicas; replica++) await start(stage, replica);
      if (replicas > 1) await waitForGroup(admin, `${prefix}llmbus.${stage}`, replicas);
      let killed;
      const r = await round(`kill ${stage}`, `k-${stage}-`, count, rate, (i) => {
        if (i === killIndex) killed = killOne(stage, replicas, args['kill-signal']);
      });
      const k = await killed;
      rounds.push(r);
      summaries.push({ stage, ...printRecovery(stage, args['kill-signal'], k, r) });
      if (killStages.length > 1) printRun(`llmbus, round with ${stage} killed`, r);
    }
    printRecoveryTable(args['kill-signal'], summaries);
  }
  printRun(`llmbus, five stage processes${scaling ? `, 1 ${scaling.stage}` : ''}`, rounds[0]);
  if (killStages.length === 0)
    printHopMedians('llmbus', ['router', 'retriever', 'generator', 'validator'], hopTap.times);
  console.log(`  chat calls in flight at most: ${model.stats.maxInFlight} (warm-up ${maxInFlightBefore})`);
  if (outcomes.other.size > 0)
    console.log(`  other outcomes seen: ${[...outcomes.other].map(([t, n]) => `${t} ${n}`).join(', ')}`);
  if (scaling && !args.kill) {
    for (let replica = 2; replica <= scaling.replicas; replica++) await start(scaling.stage, replica);
    await waitForGroup(admin, `${prefix}llmbus.${scaling.stage}`, scaling.replicas);
    model.stats.maxInFlight = 0;
    rounds.push(await round('llmbus scaled', 's-', count, rate));
    printRun(`llmbus, ${scaling.replicas} ${scaling.stage} replicas`, rounds[1]);
    console.log(`  chat calls in flight at most: ${model.stats.maxInFlight}`);
    const efficiency = rounds[1].throughput / (scaling.replicas * rounds[0].throughput);
    console.log(
      `\nscaling ${scaling.stage} 1 -> ${scaling.replicas}: ${rounds[0].throughput.toFixed(1)}/s -> ` +
        `${rounds[1].throughput.toFixed(1)}/s, efficiency ${(efficiency * 100).toFixed(0)}% ` +
        `(throughput_${scaling.replicas} / (${scaling.replicas} x throughput_1); offered ${rate}/s, ` +
        `${contracts.Topics.Generated.partitions} partitions per topic)`,
    );
  }
  return { rounds };
}

// Dispatch last: the helpers above are module-level constants.
/** The checked options of a bench run (checkedOptions). */
let options;
if (args['relay-hop'] !== undefined) {
  await kafkajsRelayHop({
    brokers: process.env.KAFKA_BROKERS.split(','),
    hop: Number(args['relay-hop']),
    prefix: args['relay-prefix'],
    concurrency: 6,
  });
} else if (args.embedded) {
  // Its own file reads them again (its defaults: --count 500, --warmup 50); checked here first.
  numberOption('count', 10, 20_000, true);
  numberOption('warmup', 0, 2000, true);
  numberOption('concurrency', 1, 64, true);
  numberOption('model-latency-ms', 0, 10_000, false);
  // The embedded comparison lives in its own file: it needs no broker.
  await import('./pipeline-embedded.mjs');
} else {
  options = checkedOptions();
  await main();
}
