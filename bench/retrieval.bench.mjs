#!/usr/bin/env node
// Retrieval benchmark on the embedded PGlite store, from the compiled libs (`npm run bench:retrieval`
// builds them). Prints figures; never asserts on time. Bounded: ingestion stops after --ingest-seconds,
// each scale runs a fixed number of queries.
//   1. Ingestion of the eval corpus's documents through the real local embedder (MiniLM GGUF):
//      documents/s and chunks/s.
//   2. Filtered queries (tenant + collections + ACL inside the query) at 10k and 100k chunks of
//      synthetic random unit vectors: vector search, BM25 and the full hybrid retrieve, p50/p99, on
//      PGlite and, when QDRANT_URL is set (QDRANT_API_KEY if needed), on that Qdrant too (the bench
//      creates and drops its own collection there). The vector search's recall@limit against the
//      exact nearest readable chunks (computed here from the generated vectors) is printed with it.
//      Each figure is wall time and this process's CPU time per call (process.cpuUsage): on a shared
//      machine the CPU time is the steadier figure.
//   node bench/retrieval.bench.mjs [--scales 10000,100000] [--queries 100] [--ingest-seconds 20] [--load-seconds 1200]
// A scale whose loading passes --load-seconds is measured at the size reached, and says so.
// --ingest-seconds 0 skips the ingestion part (and loading the model).
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { values } = parseArgs({
  options: {
    scales: { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '100' },
    'ingest-seconds': { type: 'string', default: '20' },
    // Loading goes through the port in batches of 1000 (PGlite builds its HNSW index once, after the last batch).
    'load-seconds': { type: 'string', default: '1200' },
  },
});
// Every option is checked before anything loads: a scale that is not a number used to be dropped
// (`--scales 10k` measured nothing and exited 0), and a bad number of seconds skipped or unbounded its part.
function usageError(message) {
  console.error(`bench:retrieval: ${message}`);
  process.exit(1);
}
function wholeNumber(name, text, min, max) {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max)
    usageError(`--${name}: "${text}" is not a whole number from ${min} to ${max}`);
  return value;
}
const scales = values.scales.split(',').map((text) => wholeNumber('scales', text, 1, 10_000_000));
const queryCount = wholeNumber('queries', values.queries, 10, 100_000);
wholeNumber('ingest-seconds', values['ingest-seconds'], 0, 86_400);
wholeNumber('load-seconds', values['load-seconds'], 1, 86_400);
const retrieval = require(join(root, 'libs/retrieval/dist/index.js'));
const { createModelProviders, parseModelsConfig } = require(join(root, 'libs/models/dist/index.js'));
const DIM = 384;
const WORDS = 'invoice refund vacation laptop vpn restart alert escalate payroll travel hotel badge release rollback kafka postgres certificate quota cache deploy'.split(' ');

// mulberry32: a seeded generator, so every run measures the same data.
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const unitVector = () => {
  const v = Array.from({ length: DIM }, () => random() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
// Text with a Zipf-like vocabulary: a few words are everywhere, most are rare, as in real documents.
const VOCABULARY = [...WORDS, ...Array.from({ length: 5000 }, (_, i) => `term${i.toString(36)}`)];
const word = () => VOCABULARY[Math.min(VOCABULARY.length - 1, Math.floor(VOCABULARY.length ** random()) - 1)];
const sentence = () => Array.from({ length: 30 }, word).join(' ');
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

async function ingestion(providers) {
  const store = await retrieval.PgliteVectorStore.open();
  try {
    const ingestor = new retrieval.Ingestor(providers.embeddings, store);
    const budgetMs = Number(values['ingest-seconds']) * 1000;
    await ingestor.ingest(doc(0)); // loads the model; not timed
    let docs = 0;
    let chunks = 0;
    const started = performance.now();
    while (performance.now() - started < budgetMs) {
      chunks += (await ingestor.ingest(doc(++docs))).chunkCount;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`ingestion (${providers.embeddingModel.id}, PGlite): ${docs} documents, ${chunks} chunks in ${seconds.toFixed(1)} s = ${(docs / seconds).toFixed(2)} docs/s, ${(chunks / seconds).toFixed(1)} chunks/s`);
  } finally {
    await store.close();
  }
}

// Ingestion runs on the English documents of the retrieval eval corpus, re-submitted under new ids.
const CORPUS = ['hr-policies', 'runbooks', 'wiki'].flatMap((file) => JSON.parse(readFileSync(join(root, 'eval', 'retrieval', `${file}.json`), 'utf8')));
function doc(i) {
  const source = CORPUS[i % CORPUS.length];
  const content = `# ${source.title}\n\n${Object.entries(source.sections).map(([h, t]) => `## ${h}\n\n${t}`).join('\n\n')}\n`;
  return { tenant: 't0', documentId: `doc-${i}`, collection: 'wiki', title: source.title, sourceUri: `https://x/${i}`, contentType: 'text/markdown', content, aclGroups: [], version: 1 };
}

/** An embedder that returns random unit vectors: scale figures measure the store, not the model. */
// A fresh model id per run names a fresh store collection, so a shared Qdrant never mixes runs.
const MODEL_ID = `bench-random-${Date.now().toString(36)}`;
const randomEmbedder = {
  embed: async (texts) => ({ vectors: texts.map(unitVector), dimension: DIM, usage: { modelId: MODEL_ID, provider: 'bench', promptTokens: 0, completionTokens: 0, costUsd: 0, latencyMs: 0 } }),
};

// 4 tenants, 3 collections, a quarter of the chunks restricted (all of t1's): the scope reads 1 in 24 chunks.
const SCOPE = { tenant: 't1', collections: ['wiki', 'runbooks'], groups: ['g1'] };
/** Vector matches per query, as the retriever asks for by default (its candidates per list). */
const RECALL_LIMIT = 30;

/** Ids of the `k` readable vectors nearest to `query` by cosine (all are unit vectors: by dot product). */
function exactNearest(readable, query, k) {
  const scored = readable.map(({ id, vector }) => {
    let dot = 0;
    for (let d = 0; d < DIM; d++) dot += vector[d] * query[d];
    return { id, dot };
  });
  return scored.sort((a, b) => b.dot - a.dot).slice(0, k).map((s) => s.id);
}

const STORES = [
  ['PGlite', () => retrieval.PgliteVectorStore.open(), async () => undefined],
  ...(process.env.QDRANT_URL
    ? [['Qdrant', async () => new retrieval.QdrantVectorStore({ url: process.env.QDRANT_URL, apiKey: process.env.QDRANT_API_KEY }), (store, name) => store.dropCollection(name)]]
    : []),
];

async function scale(n, [label, open, drop]) {
  const store = await open();
  const name = retrieval.vectorCollectionName(MODEL_ID, DIM);
  seed = 42;
  try {
    await store.ensureCollection(name, DIM);
    // The readable chunks of the query scope below, to compute the exact nearest ones.
    const readable = [];
    const loadStart = performance.now();
    const BATCH = 1000;
    let loaded = 0;
    for (let start = 0; start < n; start += BATCH) {
      if ((performance.now() - loadStart) / 1000 > Number(values['load-seconds'])) break;
      const points = [];
      for (let i = start; i < Math.min(n, start + BATCH); i++) {
        // 4 tenants, 3 collections, a quarter of the chunks restricted to one of 4 groups.
        const payload = {
          tenant: `t${i % 4}`, collection: ['wiki', 'runbooks', 'hr'][i % 3], aclGroups: i % 4 === 1 ? [`g${i % 16 >> 2}`] : [],
          documentId: `d${Math.floor(i / 5)}`, version: 1, title: `Doc ${i}`, sourceUri: `https://x/${i}`, sectionPath: ['S'],
          chunkIndex: i % 5, contentHash: String(i), text: sentence(),
        };
        const point = { id: retrieval.chunkId(payload.tenant, payload.documentId, 1, payload.chunkIndex + i), vector: unitVector(), payload };
        if (payload.tenant === SCOPE.tenant && SCOPE.collections.includes(payload.collection) && (payload.aclGroups.length === 0 || payload.aclGroups.some((g) => SCOPE.groups.includes(g)))) {
          readable.push({ id: point.id, vector: Float64Array.from(point.vector) });
        }
        points.push(point);
      }
      await store.upsert(name, points);
      loaded += points.length;
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;
    // PGlite defers statistics and the HNSW build of a bulk load to its end (else the first query pays).
    const indexStart = performance.now();
    if (typeof store.buildIndexes === 'function') await store.buildIndexes(name);
    const indexSeconds = (performance.now() - indexStart) / 1000;
    const scope = { ...SCOPE, limit: RECALL_LIMIT };
    const retriever = new retrieval.Retriever(randomEmbedder, store, { minScore: -1, decomposer: retrieval.NO_DECOMPOSITION });
    const timings = { vector: [], lexical: [], hybrid: [] };
    // CPU time of this process per call as well as wall time: on a shared machine the wall time
    // mostly measures the other processes.
    const cpu = { vector: [], lexical: [], hybrid: [] };
    const timed = async (kind, call) => {
      const c = process.cpuUsage();
      const t = performance.now();
      const result = await call();
      timings[kind].push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu[kind].push((used.user + used.system) / 1000);
      return result;
    };
    let found = 0;
    let expected = 0;
    for (let q = 0; q < queryCount; q++) {
      const vector = unitVector();
      const nearest = await timed('vector', () => store.search(name, vector, scope));
      const exact = exactNearest(readable, vector, RECALL_LIMIT);
      const returned = new Set(nearest.map((c) => c.id));
      found += exact.filter((id) => returned.has(id)).length;
      expected += exact.length;
      const text = `${WORDS[q % WORDS.length]} ${WORDS[(q * 7) % WORDS.length]} policy`;
      await timed('lexical', () => store.lexicalSearch(name, { ...scope, text }));
      await timed('hybrid', () => retriever.retrieve({ tenant: 't1', collections: scope.collections, topK: 10, query: text, groups: scope.groups }));
    }
    const reached = loaded < n ? ` (load budget reached: ${loaded} of ${n})` : '';
    console.log(`${label}: ${loaded} chunks${reached}, loaded in ${loadSeconds.toFixed(0)} s (${(loaded / Math.max(loadSeconds, 0.001)).toFixed(0)} chunks/s), indexed in ${indexSeconds.toFixed(0)} s; ${queryCount} queries, tenant + 2 of 3 collections + ACL filter (load average ${loadavg().map((l) => l.toFixed(1)).join(', ')}):`);
    for (const [kind, list] of Object.entries(timings)) {
      const sorted = list.sort((a, b) => a - b);
      const cpuSorted = cpu[kind].sort((a, b) => a - b);
      console.log(`  ${kind.padEnd(8)} p50 ${fmt(percentile(sorted, 0.5)).padStart(9)}   p99 ${fmt(percentile(sorted, 0.99)).padStart(9)}   CPU p50 ${fmt(percentile(cpuSorted, 0.5)).padStart(9)}   p99 ${fmt(percentile(cpuSorted, 0.99)).padStart(9)}`);
    }
    console.log(`  vector recall@${RECALL_LIMIT} against the exact nearest ${readable.length} readable chunks: ${(found / Math.max(1, expected)).toFixed(3)}`);
  } finally {
    await drop(store, name).catch((error) => console.error(`could not drop ${name}: ${error.message}`));
    await store.close();
  }
}

if (Number(values['ingest-seconds']) > 0) {
  const providers = createModelProviders(parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' }));
  try {
    await ingestion(providers);
  } finally {
    await providers.close();
  }
}
for (const n of scales) for (const target of STORES) await scale(n, target);
