// `npm run bench:pipeline -- --embedded`: npm start's single process (all five stages on the
// in-process bus, sample documents indexed, the same instant OpenAI-compatible model server in a
// process of its own) driven over HTTP at a fixed concurrency, beside a LangChain.js chain doing
// the same retrieve-prompt-parse work in one process with the same model server. Prints CPU per
// request and requests/s of each, the ratio, and how many model calls were in flight at most.
// No broker needed. Never asserts on time.
//   node bench/pipeline.bench.mjs --embedded [--count 500] [--concurrency 8] [--model-latency-ms 0]
//     [--cpu-prof DIR]   llmbus's process writes a V8 CPU profile (llmbus.cpuprofile) into DIR on exit
//     [--poll]           read statuses the old way, every 20 to 200 ms, instead of one long poll (?waitMs=)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cpuSeconds,
  freePort,
  ROOT,
  spawnNode,
  stopProcess,
  ticket,
  writeRegistry,
  writeWorkflows,
} from './pipeline-support.mjs';

const require = createRequire(import.meta.url);
const { values: args } = parseArgs({
  strict: false,
  options: {
    count: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '8' },
    'model-latency-ms': { type: 'string', default: '0' },
    'serve-model': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string', default: '' },
    poll: { type: 'boolean', default: false },
  },
});

if (args['serve-model']) {
  // The model server as a child process, so that its CPU is counted in neither contestant.
  const { startModelServer } = await import('./pipeline-support.mjs');
  const server = await startModelServer(Number(args['model-latency-ms']) || 0);
  process.stdout.write(`model server ${server.url}\n`);
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
} else {
  await main();
}

async function main() {
  const count = Math.max(10, Math.min(20_000, Number(args.count) || 500));
  const warmup = Math.max(0, Math.min(2000, Number(args.warmup) || 0));
  const concurrency = Math.max(1, Math.min(64, Number(args.concurrency) || 8));
  const latency = Math.max(0, Math.min(10_000, Number(args['model-latency-ms']) || 0));
  const cleanups = [];
  const workDir = mkdtempSync(join(tmpdir(), 'llmbus-bench-embedded-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  try {
    const modelProc = await spawnNode(
      'model-server',
      fileURLToPath(import.meta.url),
      ['--serve-model', '--model-latency-ms', String(latency)],
      {},
      'model server http',
    );
    cleanups.push(() => stopProcess(modelProc));
    const modelUrl = /model server (\S+)/.exec(modelProc.output())[1];
    const stats = async () => (await globalThis.fetch(`${modelUrl}/stats`)).json();
    console.log(
      `bench:pipeline --embedded: ${count} requests (warm-up ${warmup}) at concurrency ${concurrency}, model latency ${latency} ms`,
    );

    // llmbus embedded: the process npm start runs.
    const apiKey = `bench-key-${randomBytes(12).toString('hex')}`;
    const port = await freePort();
    const llmbus = await spawnNode(
      'llmbus',
      join(ROOT, 'services', 'embedded', 'dist', 'main.js'),
      [],
      {
        LLMBUS_MODE: 'embedded',
        HTTP_PORT: String(port),
        API_KEYS: `${apiKey}:demo:admin`,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        LLMBUS_DATA_DIR: '',
        OPENAI_API_KEY: 'bench-not-a-secret',
        OPENAI_BASE_URL: modelUrl,
        OPENAI_CHAT_MODEL: 'bench/chat',
        OPENAI_EMBEDDING_MODEL: 'bench/embed',
        OPENAI_MAX_RETRIES: '0',
        LLMBUS_MODELS_REGISTRY: writeRegistry(workDir),
        LLMBUS_WORKFLOWS_DIR: writeWorkflows(workDir),
      },
      'llmbus is running',
      { cpuProf: args['cpu-prof'] || undefined },
    );
    cleanups.push(() => stopProcess(llmbus));
    // The indexing log line goes through pino's asynchronous destination, so it may come after the
    // "is running" line waited for above; read it now, before the run's log lines push it out of
    // the kept output.
    const chunks = await indexedChunks(llmbus);
    const base = `http://127.0.0.1:${port}`;
    // A kept-alive socket the server closed meanwhile fails with ECONNRESET: try once more (POST
    // with a requestId and GET are idempotent).
    const fetch = async (url, init) => {
      try {
        return await globalThis.fetch(url, init);
      } catch {
        return globalThis.fetch(url, init);
      }
    };
    let statusCalls = 0;
    const one = async (requestId) => {
      const accepted = await fetch(`${base}/v1/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ ...ticket(requestId), requester: undefined }),
      });
      if (accepted.status !== 202)
        throw new Error(`POST answered ${accepted.status}: ${await accepted.text()}`);
      const until = Date.now() + 120_000;
      // Status reads cost the process CPU too: a long poll (answered when the request ends), or
      // with --poll reads backing off from 20 ms to 200 ms between them.
      for (let poll = 0; ; poll++) {
        statusCalls++;
        const query = args.poll ? '' : '?waitMs=30000';
        const status = await fetch(`${base}/v1/requests/${requestId}${query}`, {
          headers: { 'x-api-key': apiKey },
        });
        const body = status.ok ? await status.json() : {};
        if (body.status === 'completed') return;
        if (body.status === 'failed' || body.status === 'review')
          throw new Error(`${requestId} ended ${body.status}`);
        if (Date.now() > until) throw new Error(`${requestId} not completed in 120 s`);
        if (args.poll || !status.ok) await new Promise((r) => setTimeout(r, Math.min(200, 20 * 2 ** poll)));
      }
    };
    await run(warmup, concurrency, (i) => one(`w-${i}`));
    const before = (await stats()).chat;
    statusCalls = 0;
    const cpu0 = cpuSeconds(llmbus.pid);
    const t0 = performance.now();
    await run(count, concurrency, (i) => one(`m-${i}`));
    const seconds = (performance.now() - t0) / 1000;
    const llmbusCpu = ((cpuSeconds(llmbus.pid) - cpu0) * 1000) / count;
    const after = await stats();
    const llmbusFigures = {
      cpu: llmbusCpu,
      rps: count / seconds,
      inFlight: after.maxInFlight,
      calls: after.chat - before,
      statusCalls: statusCalls / count,
    };

    // LangChain.js: the same retrieve-prompt-parse chain in this process, with the workflow's topK.
    const workflow = supportTicketRetrieval();
    const topK = workflow.topK;
    const chain = await langChainChain(modelUrl, workflow);
    await run(warmup, concurrency, (i) => chain.invoke(ticket(`lw-${i}`)));
    const usage0 = process.cpuUsage();
    const l0 = performance.now();
    await run(count, concurrency, (i) => chain.invoke(ticket(`lm-${i}`)));
    const lSeconds = (performance.now() - l0) / 1000;
    const usage = process.cpuUsage(usage0);
    const lcCpu = (usage.user + usage.system) / 1000 / count;

    console.log(
      `\nllmbus embedded (npm start, ${chunks} chunks indexed; top ${topK} passages fused from ` +
        `${process.env.RETRIEVAL_CANDIDATES ?? 30} vector and as many lexical candidates; POST, then ` +
        `${args.poll ? 'GET status, 20 to 200 ms apart' : 'GET status?waitMs=30000 (long poll)'}):`,
    );
    console.log(
      `  ${llmbusFigures.rps.toFixed(1)} req/s, CPU ${llmbusFigures.cpu.toFixed(2)} ms per request, ` +
        `${llmbusFigures.statusCalls.toFixed(1)} status calls per request, ` +
        `${llmbusFigures.calls} chat calls, at most ${llmbusFigures.inFlight} model calls in flight (whole run)`,
    );
    console.log(
      `LangChain.js chain in one process (the same ${chain.indexed} chunks indexed, llmbus's chunker; top ${topK} passages ` +
        `by cosine over the ${chain.searched} of ${workflow.collections.join(', ')} a requester without groups may read; ` +
        `retrieve, ChatPromptTemplate, model over HTTP, JsonOutputParser):`,
    );
    console.log(`  ${(count / lSeconds).toFixed(1)} req/s, CPU ${lcCpu.toFixed(2)} ms per request`);
    console.log(
      `ratio llmbus / LangChain.js: CPU per request ${(llmbusFigures.cpu / lcCpu).toFixed(1)}x, ` +
        `req/s ${(llmbusFigures.rps / (count / lSeconds)).toFixed(2)}x`,
    );
  } finally {
    while (cleanups.length > 0)
      await Promise.resolve()
        .then(cleanups.pop())
        .catch((e) => console.error(e.message));
  }
  process.exit(0);
}

/** The chunk count of llmbus's "sample documents indexed" log line, waited for up to 10 s. */
async function indexedChunks(proc) {
  for (const until = Date.now() + 10_000; Date.now() < until;) {
    const found = /"chunks":(\d+)/.exec(proc.output())?.[1];
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return 'an unknown number of';
}

/** Runs `task(i)` for i < n with at most `concurrency` at once. */
async function run(n, concurrency, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/**
 * The sample documents chunked by llmbus's chunker, embedded by the model server, searched by
 * cosine similarity (the workflow's `topK` best of its collections), rendered with a
 * ChatPromptTemplate, answered by the model server and parsed by a JsonOutputParser: what
 * llmbus's retrieve, generate and parse steps do.
 */
async function langChainChain(modelUrl, workflow) {
  const { ChatPromptTemplate } = require('@langchain/core/prompts');
  const { RunnableLambda, RunnableSequence } = require('@langchain/core/runnables');
  const { JsonOutputParser } = require('@langchain/core/output_parsers');
  // The corpus llmbus indexes at start-up (every sample folder), cut by llmbus's own chunker with
  // its default sizes; searched, as the support-ticket workflow searches, in its collections among
  // the passages a requester without groups may read.
  require('reflect-metadata'); // the contracts' decorators, loaded by the retrieval library
  const { loadAllSampleDocuments } = require(join(ROOT, 'services/embedded/dist/sample-documents.js'));
  const { chunkDocument } = require(join(ROOT, 'libs/retrieval/dist/index.js'));
  const all = [];
  for (const { tenant, documents } of loadAllSampleDocuments(join(ROOT, 'samples')))
    for (const doc of documents)
      for (const chunk of chunkDocument({ ...doc, tenant }))
        all.push({
          id: chunk.id,
          text: chunk.text,
          collection: doc.collection,
          open: doc.aclGroups.length === 0,
        });
  const chunks = all.filter((c) => c.open && workflow.collections.includes(c.collection));
  const post = async (path, body) => {
    const response = await fetch(`${modelUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
      body: JSON.stringify(body),
    });
    return response.json();
  };
  const embedded = await post('/embeddings', { model: 'bench-embed', input: chunks.map((c) => c.text) });
  chunks.forEach((c, i) => (c.vector = normalise(embedded.data[i].embedding)));
  const retrieve = RunnableLambda.from(async (t) => {
    const query = `${t.input.product} ${t.input.subject} ${t.input.body}`;
    const [q] = (await post('/embeddings', { model: 'bench-embed', input: [query] })).data;
    const v = normalise(q.embedding);
    const top = chunks
      .map((c) => ({ c, score: c.vector.reduce((s, x, i) => s + x * v[i], 0) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, workflow.topK);
    return {
      subject: t.input.subject,
      product: t.input.product,
      priority: t.input.priority,
      body: t.input.body,
      passages: top.map(({ c }) => `<passage id="${c.id}">\n${c.text}\n</passage>`).join('\n'),
    };
  });
  const prompt = ChatPromptTemplate.fromMessages([
    [
      'system',
      'You are a support agent. Answer with one JSON object: category, priority, reply, citations, needsHuman, confidence.',
    ],
    [
      'user',
      '<request>\nSubject: {subject}\nProduct: {product}\nStated priority: {priority}\nMessage:\n{body}\n</request>\n\n<passages>\n{passages}\n</passages>',
    ],
  ]);
  const model = RunnableLambda.from(async (value) => {
    const messages = value
      .toChatMessages()
      .map((m) => ({ role: m._getType() === 'human' ? 'user' : 'system', content: m.content }));
    const answer = await post('/chat/completions', { model: 'bench-chat', messages });
    return answer.choices[0].message.content;
  });
  const chain = RunnableSequence.from([retrieve, prompt, model, new JsonOutputParser()]);
  return { invoke: (t) => chain.invoke(t), indexed: all.length, searched: chunks.length };
}

/** Retrieval (topK, collections) of the support-ticket workflow the bench's tickets run: its highest version. */
function supportTicketRetrieval() {
  const { parse } = require('yaml');
  const versions = readdirSync(join(ROOT, 'workflows'))
    .filter((f) => /^support-ticket\.v\d+\.yaml$/.test(f))
    .map((f) => parse(readFileSync(join(ROOT, 'workflows', f), 'utf8')))
    .sort((a, b) => b.version - a.version);
  const retrieval = versions[0]?.retrieval;
  if (!Number.isInteger(retrieval?.topK) || !Array.isArray(retrieval?.collections))
    throw new Error('workflows/support-ticket.v*.yaml names no retrieval.topK and retrieval.collections');
  return { topK: retrieval.topK, collections: retrieval.collections };
}

function normalise(v) {
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
}
