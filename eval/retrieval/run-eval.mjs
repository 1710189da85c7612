#!/usr/bin/env node
// Retrieval quality on the labelled corpus of this folder, with the real local embedding model
// (MiniLM GGUF via @llmbus/models) and the embedded PGlite store. Prints recall@5, MRR@10, nDCG@10
// and leaked passages per configuration. Uses the compiled libs: `npm run eval:retrieval` builds them.
//   node eval/retrieval/run-eval.mjs [--json] [--model-decomposition] [--configuration NAME ...]
// --model-decomposition adds a row where the local chat model splits questions (slow on CPU: ~2 min more).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { COLLECTIONS, KINDS, SETS, TENANT, documents, ingestAll, memoised, questions } from './corpus.mjs';
import { labelsHit, leakedPassages, ndcgAt, reciprocalRankAt, recallAt } from './metrics.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
// EVAL_LIBS_ROOT: another checkout's compiled libs (e.g. the main branch's), to measure before and after on one set.
const libsRoot = process.env.EVAL_LIBS_ROOT ?? root;
const retrieval = require(join(libsRoot, 'libs/retrieval/dist/index.js'));
const { createModelProviders, parseModelsConfig } = require(join(libsRoot, 'libs/models/dist/index.js'));
const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'model-decomposition': { type: 'boolean', default: false },
    configuration: { type: 'string', multiple: true },
    // Keeps every embedded text's vector in this JSON file across runs (same model only).
    'embedding-cache': { type: 'string' },
    // Writes each question's relevance features, label and rank of the first relevant passage (per configuration).
    features: { type: 'string' },
  },
});

const started = performance.now();
const providers = createModelProviders(parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' }));
const store = await retrieval.PgliteVectorStore.open();
try {
  // Every configuration embeds the same questions: computed once, so rows differ only by ranking.
  const embedder = memoised(providers.embeddings, providers.embeddingModel.id, args['embedding-cache']);
  const ingestStart = performance.now();
  const chunks = await ingestAll(retrieval, embedder, store);
  embedder.save();
  const ingestSeconds = (performance.now() - ingestStart) / 1000;

  const rules = new retrieval.RuleQueryDecomposer();
  const reranker = new retrieval.EmbeddingReranker(embedder);
  // EVAL_RETRIEVER_OPTIONS: JSON retriever options for every row (e.g. '{"lexicalWeight":0.2}'), to measure a setting.
  // Every relevance feature is computed (the model uses some), so --features can feed eval:calibrate.
  const common = { maxContextTokens: 100_000, relevanceFeatures: 'all', ...JSON.parse(process.env.EVAL_RETRIEVER_OPTIONS ?? '{}') };
  const none = retrieval.NO_DECOMPOSITION;
  const configurations = [
    ['vector only', { ...common, lexical: false, decomposer: none }],
    ['hybrid, RRF', { ...common, fusion: 'rrf', decomposer: none }],
    ['hybrid', { ...common, decomposer: none }],
    // BM25 minimum should match (default 1/3 of the question's content words): off, and stricter.
    ['hybrid, every BM25 match', { ...common, decomposer: none, lexicalMinimumShare: 0 }],
    ['hybrid, minimum match 1/2', { ...common, decomposer: none, lexicalMinimumShare: 1 / 2 }],
    ['hybrid, rule decomposition', { ...common, decomposer: rules }],
    ['hybrid + rerank', { ...common, decomposer: none, reranker }],
  ];
  // --configuration NAME (repeatable) runs only the named rows, e.g. on a busy machine.
  if (args.configuration) configurations.splice(0, configurations.length, ...configurations.filter(([name]) => args.configuration.includes(name)));
  let fallbacks = 0;
  if (args['model-decomposition']) {
    const decomposer = new retrieval.ModelQueryDecomposer(providers.chat, { onFallback: () => (fallbacks += 1) });
    configurations.push([`hybrid, ${providers.chatModel.id} decomposition`, { ...common, decomposer }]);
  }
  const readable = new Map(documents.map((d) => [`${d.tenant}/${d.id}`, d]));
  const rows = [];
  const byKind = new Map();
  const featureRows = [];
  for (const [name, options] of configurations) {
    const retriever = new retrieval.Retriever(embedder, store, options);
    const records = [];
    for (const q of questions) {
      const t = performance.now();
      const result = await retriever.retrieve({ tenant: q.tenant, collections: q.collections, topK: 10, query: q.question, groups: q.groups });
      const ms = performance.now() - t;
      const { passages } = result;
      const answerable = q.relevant.length > 0;
      // Without a relevance signal retrieval never abstains.
      const abstained = result.answerable === false;
      const firstRelevant = passages.findIndex((p) => labelsHit([p], q.relevant).size > 0);
      const firstStale = passages.findIndex((p) => (q.stale ?? []).includes(p.documentId));
      featureRows.push({ configuration: name, id: q.id, set: q.set, kind: q.kind, answerable, firstRelevant, features: result.relevanceFeatures ?? null });
      records.push({
        set: q.set, kind: q.kind, ms, answerable, relevance: result.relevance,
        leaked: leakedPassages(passages, { tenant: q.tenant, groups: q.groups }, readable) + labelsHit(passages, q.hiddenRelevant ?? []).size,
        abstentionCorrect: abstained === !answerable,
        // A superseded document returned above its replacement (or without it).
        staleAbove: firstStale >= 0 && (firstRelevant < 0 || firstStale < firstRelevant),
        ...(answerable
          ? { recall: recallAt(passages, q.relevant, 5), rr: reciprocalRankAt(passages, q.relevant, 10), ndcg: ndcgAt(passages, q.relevant, 10) }
          : {}),
      });
    }
    for (const set of SETS) {
      const inSet = records.filter((r) => r.set === set);
      rows.push({ configuration: name, set, ...summary(inSet) });
      byKind.set(`${name}/${set}`, [...KINDS.map((kind) => ({ kind, ...summary(inSet.filter((r) => r.kind === kind)) })), { kind: 'all', ...summary(inSet) }]);
    }
    if (args.json) console.log(JSON.stringify({ configuration: name, relevance: records.map((r) => [r.answerable, r.relevance]) }));
    embedder.save();
  }
  if (args.features) writeFileSync(args.features, JSON.stringify(featureRows));

  const hidden = questions.filter((q) => q.relevant.length === 0).length;
  console.log(`corpus: ${chunks} chunks in ${documents.filter((d) => d.tenant === TENANT).length} documents across ${COLLECTIONS.length + 1} collections (+ ${documents.length - documents.filter((d) => d.tenant === TENANT).length} documents of another tenant); embedding model ${providers.embeddingModel.id}`);
  for (const set of SETS) {
    const inSet = questions.filter((q) => q.set === set);
    console.log(`${set} questions: ${inSet.length} (${KINDS.map((k) => `${inSet.filter((q) => q.kind === k).length} ${k}`).join(', ')})`);
  }
  console.log(`${hidden} have no readable answer; ingestion ${ingestSeconds.toFixed(1)} s`);
  console.log('');
  printTable(['configuration', 'set', 'recall@5', 'MRR@10', 'nDCG@10', 'abstention', 'stale first', 'leaked', 'p50 ms'], rows);
  const perKind = process.env.EVAL_PER_KIND ?? 'hybrid';
  for (const set of SETS) {
    console.log(`\nper kind, configuration "${perKind}", ${set} questions:\n`);
    printTable(['kind', 'questions', 'recall@5', 'MRR@10', 'nDCG@10', 'abstention', 'stale first', 'leaked'], byKind.get(`${perKind}/${set}`) ?? []);
  }
  console.log('');
  console.log('abstention = share of questions where retrieval abstained exactly when nothing readable answers; stale first = questions where a superseded document came above its replacement');
  console.log('p50 ms = median time of one retrieval; questions are embedded once, in the first row, so later rows time the store and the ranking only');
  console.log(`leaked = passages from another tenant or from documents outside the asker's groups (must be 0); total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (args['model-decomposition']) console.log(`model decomposition fell back to the rules ${fallbacks} times of ${questions.length}`);
  if (args.json) console.log(JSON.stringify(rows));
  if (rows.some((r) => r.leaked > 0)) process.exitCode = 1;
} finally {
  await store.close();
  await providers.close();
}

/** Mean ranking metrics over the answerable records; abstention over all; leaks and stale-first counts. */
function summary(records) {
  const scored = records.filter((r) => r.answerable);
  const mean = (key) => (scored.length ? scored.reduce((n, r) => n + r[key], 0) / scored.length : NaN);
  const sorted = records.map((r) => r.ms).sort((a, b) => a - b);
  return {
    questions: records.length,
    'recall@5': mean('recall'),
    'MRR@10': mean('rr'),
    'nDCG@10': mean('ndcg'),
    abstention: records.filter((r) => r.abstentionCorrect).length / records.length,
    'stale first': records.filter((r) => r.staleAbove).length,
    leaked: records.reduce((n, r) => n + r.leaked, 0),
    'p50 ms': sorted[Math.floor(sorted.length / 2)],
  };
}

function printTable(header, rows) {
  const text = (v, h) =>
    typeof v !== 'number' ? String(v) : Number.isNaN(v) ? '-' : Number.isInteger(v) || h === 'p50 ms' ? v.toFixed(0) : v.toFixed(3);
  const widths = header.map((h) => Math.max(h.length, ...rows.map((r) => text(r[h], h).length)));
  console.log(`| ${header.map((h, i) => h.padEnd(widths[i])).join(' | ')} |`);
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(`| ${header.map((h, i) => text(row[h], h).padEnd(widths[i])).join(' | ')} |`);
}
