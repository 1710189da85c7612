// Parts the pipeline benches share: an instant OpenAI-compatible model server, the registry and
// workflows it is used with, child processes and their CPU time from /proc.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const EMBEDDING_DIMENSION = 64;

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line (11 and 12 after the command), in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The p-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Spawns a node process; resolves once its output contains `ready`, rejects if it exits first. */
export function spawnNode(name, script, argv, env, ready, { cpuProf } = {}) {
  const execArgv = cpuProf
    ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...execArgv, script, ...argv], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (d) => {
    output = (output + d.toString()).slice(-200_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const proc = { name, pid: child.pid, child, output: () => output };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      reject(new Error(`${name} not ready in 300 s:\n${output.slice(-3000)}`));
    }, 300_000);
    const poll = setInterval(() => {
      if (output.includes(ready)) {
        clearInterval(poll);
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(proc);
      }
    }, 20);
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) while starting:\n${output.slice(-3000)}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the process exited. */
export async function stopProcess(proc) {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** The support ticket every bench request carries. */
export function ticket(requestId) {
  return {
    requestId,
    eventType: 'ticket.created',
    input: {
      subject: 'Password reset email never arrives',
      // Each request's text differs, as real tickets do: no stage can answer it from a cache.
      body: `Ticket ${requestId}: I clicked Forgot password twice but no email came. How do I get into my account?`,
      priority: 'normal',
      product: 'Acme Sync',
    },
    requester: { userId: 'bench', groups: [] },
  };
}

/**
 * An OpenAI-compatible server on 127.0.0.1 (GET …/stats answers its counters): chat answers after
 * `latencyMs` with a reply copied from the first passage of the prompt (citing it), embeddings
 * after `embeddingLatencyMs` (default 0: the simulated latency is the generation's, so that a stage
 * that only embeds, the router's classifier and the retriever, does not limit a generator scaling
 * run) with a bag-of-characters vector. `maxInFlight` counts chat calls.
 */
export async function startModelServer(latencyMs, { embeddingLatencyMs = 0 } = {}) {
  const stats = { chat: 0, embeddings: 0, inFlight: 0, maxInFlight: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url.endsWith('/stats')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(stats));
      }
      const isChat = !req.url.endsWith('/embeddings');
      if (isChat) {
        stats.inFlight += 1;
        stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const answer = isChat ? chat(body) : embeddings(body);
      const respond = () => {
        if (isChat) stats.inFlight -= 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      const delay = isChat ? latencyMs : embeddingLatencyMs;
      if (delay > 0) setTimeout(respond, delay);
      else respond();
    });
  });
  const embeddings = (body) => {
    stats.embeddings += 1;
    const input = Array.isArray(body.input) ? body.input : [body.input];
    return {
      object: 'list',
      model: body.model,
      data: input.map((text, index) => ({ object: 'embedding', index, embedding: vectorOf(String(text)) })),
      usage: { prompt_tokens: input.length, total_tokens: input.length },
    };
  };
  const chat = (body) => {
    stats.chat += 1;
    const prompt = (body.messages ?? []).map((m) => m.content ?? '').join('\n');
    const passage = /<passage id="([^"]+)"[^>]*>\n([^\n]+)/.exec(prompt);
    // A classified workflow (support-ticket v2) names the ticket's label in its system prompt, and
    // its validator requires the draft's category to match it.
    const label = /classified as (billing|technical|account|other)\b/.exec(prompt)?.[1];
    const output = {
      category: label ?? 'account',
      priority: 'normal',
      reply: (passage?.[2] ?? 'Please open Settings and choose Reset password.').slice(0, 500),
      citations: passage ? [passage[1]] : [],
      needsHuman: false,
      confidence: 0.9,
    };
    return {
      id: `chatcmpl-${stats.chat}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: JSON.stringify(output) },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 40, total_tokens: 140 },
    };
  };
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    stats,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A deterministic bag-of-characters embedding (never the zero vector). */
export function vectorOf(text) {
  const vector = new Array(EMBEDDING_DIMENSION).fill(0);
  const lower = text.toLowerCase();
  for (let i = 0; i < lower.length; i++) vector[lower.charCodeAt(i) % EMBEDDING_DIMENSION] += 1;
  vector[0] += 1;
  return vector;
}

/** Registry with a free chat model (no budget refusals) and small embeddings, served by the model server. */
export function writeRegistry(dir) {
  const path = join(dir, 'models.registry.json');
  const entry = { provider: 'openai', pricePer1MInputUsd: 0, pricePer1MOutputUsd: 0, tier: 'small' };
  writeFileSync(
    path,
    JSON.stringify({
      models: [
        {
          ...entry,
          id: 'bench/chat',
          model: 'bench-chat',
          contextWindow: 16_000,
          capabilities: ['chat', 'json', 'tools'],
        },
        {
          ...entry,
          id: 'bench/embed',
          model: 'bench-embed',
          contextWindow: 8191,
          capabilities: ['embeddings'],
          embeddingDimension: EMBEDDING_DIMENSION,
        },
      ],
    }),
  );
  return path;
}

/**
 * The shipped workflows without the evidence-based confidence thresholds: the scripted model's
 * answers are not judged for quality here, every request should complete (not go to review).
 */
export function writeWorkflows(dir) {
  const { parse, stringify } = require('yaml');
  const target = join(dir, 'workflows');
  mkdirSync(target, { recursive: true });
  const shipped = join(ROOT, 'workflows');
  for (const name of readdirSync(shipped).filter((f) => f.endsWith('.yaml'))) {
    const workflow = parse(readFileSync(join(shipped, name), 'utf8'));
    delete workflow.validation?.confidence;
    writeFileSync(join(target, name), stringify(workflow));
  }
  // Labelled examples of classifier steps live beside the workflows.
  cpSync(join(shipped, 'examples'), join(target, 'examples'), { recursive: true });
  return target;
}

/** Cores this process may use. */
export function cpuCount() {
  return availableParallelism();
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createTcpServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * One hop of the raw kafkajs relay both benches compare against (run in a child process): consume
 * `<prefix>relay.<hop>`, produce each message to `<prefix>relay.<hop+1>` (idempotent, acks from all
 * in-sync replicas), commit its offset after the produce, up to `concurrency` partitions at once.
 * Prints "ready" once the consumer joined; SIGTERM disconnects both clients and exits 0.
 */
export async function kafkajsRelayHop({ brokers, hop, prefix, concurrency }) {
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({ brokers, clientId: `${prefix}relay-${hop}`, logLevel: logLevel.ERROR });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 5,
    allowAutoTopicCreation: false,
  });
  const consumer = kafka.consumer({
    groupId: `${prefix}relay-${hop}`,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: `${prefix}relay.${hop}`, fromBeginning: true });
  consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('ready\n'));
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: concurrency,
    eachMessage: async ({ topic, partition, message }) => {
      await producer.send({
        topic: `${prefix}relay.${hop + 1}`,
        acks: -1,
        messages: [{ key: message.key, value: message.value, headers: message.headers }],
      });
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    },
  });
  process.on('SIGTERM', () => {
    void Promise.allSettled([consumer.disconnect(), producer.disconnect()]).then(() => process.exit(0));
  });
}

/**
 * Reads the record timestamps of every request along a path of topics, for a latency breakdown per
 * hop: consumes `topics` (in path order) from the beginning and keeps, for each record key that
 * `keep(key)` accepts and each topic, the timestamp (ms since the epoch, CreateTime: set by the
 * process that produced the record) of the first record that `filter(message, topicIndex)` accepts.
 * Returns the consumer (to disconnect) and `times`: key -> array of timestamps by topic index.
 */
export async function tapHopTimes(kafka, groupId, topics, keep, filter = () => true) {
  const times = new Map();
  const consumer = await tapConsumer(kafka, groupId, topics, (batch) => {
    const index = topics.indexOf(batch.topic);
    for (const message of batch.messages) {
      const key = message.key?.toString() ?? '';
      if (!keep(key) || !filter(message, index)) continue;
      let row = times.get(key);
      if (!row) times.set(key, (row = new Array(topics.length).fill(undefined)));
      row[index] ??= Number(message.timestamp);
    }
  });
  return { consumer, times };
}

/**
 * A kafkajs consumer of `topics` from the beginning (a group of its own, 50 ms fetch waits) that
 * hands each batch to `onBatch(batch)`; resolves once it has joined its group.
 */
export async function tapConsumer(kafka, groupId, topics, onBatch) {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50, sessionTimeout: 30_000 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
  await consumer.run({ eachBatch: async ({ batch }) => onBatch(batch) });
  await joined;
  return consumer;
}

/**
 * Prints the median time each hop added (record timestamp on topic i+1 minus on topic i, over the
 * requests seen on both) and their sum. `names[i]` names the hop from topic i to topic i+1. The
 * sum of medians is not the median end to end: it shows where a typical request spends its time.
 */
export function printHopMedians(title, names, times) {
  const medians = names.map((_, i) => {
    const gaps = [];
    for (const row of times.values())
      if (row[i] !== undefined && row[i + 1] !== undefined) gaps.push(row[i + 1] - row[i]);
    gaps.sort((a, b) => a - b);
    return percentile(gaps, 50);
  });
  const sum = medians.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const parts = names.map(
    (name, i) => `${name} ${Number.isFinite(medians[i]) ? medians[i].toFixed(0) : '-'}`,
  );
  console.log(
    `  ${title}, median ms per hop (record timestamps): ${parts.join(', ')}; sum ${sum.toFixed(0)}`,
  );
}
