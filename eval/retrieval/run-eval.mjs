#!/usr/bin/env node
// Retrieval quality on the labelled corpus of this folder, with the real local embedding model
// (MiniLM GGUF via @llmbus/models) and the embedded PGlite store. Prints recall@5, MRR@10, nDCG@10
// and leaked passages per configuration. Uses the compiled libs: `npm run eval:retrieval` builds them.
//   node eval/retrieval/run-eval.mjs [--json] [--model-decomposition]
// --model-decomposition adds a row where the local chat model splits questions (slow on CPU: ~2 min more).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labelsHit, leakedPassages, ndcgAt, reciprocalRankAt, recallAt } from './metrics.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
const retrieval = require(join(root, 'libs/retrieval/dist/index.js'));
const { createModelProviders, parseModelsConfig } = require(join(root, 'libs/models/dist/index.js'));
const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false }, 'model-decomposition': { type: 'boolean', default: false } } });

const read = (file) => JSON.parse(readFileSync(join(here, file), 'utf8'));
const TENANT = 'acme';
const documents = [
  ...read('hr-policies.json').map((d) => ({ ...d, tenant: TENANT, collection: 'hr-policies' })),
  ...read('runbooks.json').map((d) => ({ ...d, tenant: TENANT, collection: 'runbooks' })),
  ...read('wiki.json').map((d) => ({ ...d, tenant: TENANT, collection: 'wiki' })),
  // Another tenant with the same document ids and conflicting facts: none of it may reach acme.
  ...read('globex.json').map((d) => ({ ...d, tenant: 'globex' })),
];
const questions = [...read('questions.json'), ...read('runbook-questions.json')];
const COLLECTIONS = ['hr-policies', 'runbooks', 'wiki'];

const markdownOf = (doc) => `# ${doc.title}\n\n${Object.entries(doc.sections).map(([h, t]) => `## ${h}\n\n${t}`).join('\n\n')}\n`;

const started = performance.now();
const providers = createModelProviders(parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' }));
const store = await retrieval.PgliteVectorStore.open();
try {
  const embedder = providers.embeddings;
  const ingestor = new retrieval.Ingestor(embedder, store);
  const ingestStart = performance.now();
  let chunks = 0;
  for (const doc of documents) {
    const result = await ingestor.ingest({
      tenant: doc.tenant, documentId: doc.id, collection: doc.collection, title: doc.title,
      sourceUri: `https://intranet.example/${doc.collection}/${doc.id}`, contentType: 'text/markdown',
      content: markdownOf(doc), aclGroups: doc.acl, version: 1,
    });
    if (doc.tenant === TENANT) chunks += result.chunkCount;
  }
  const ingestSeconds = (performance.now() - ingestStart) / 1000;

  const rules = new retrieval.RuleQueryDecomposer();
  const reranker = new retrieval.EmbeddingReranker(embedder);
  const common = { maxContextTokens: 100_000 };
  const configurations = [
    ['vector only', { ...common, lexical: false, decomposer: rules }],
    ['hybrid, no decomposition', { ...common, decomposer: retrieval.NO_DECOMPOSITION }],
    ['hybrid', { ...common, decomposer: rules }],
    ['hybrid + rerank', { ...common, decomposer: rules, reranker }],
  ];
  let fallbacks = 0;
  if (args['model-decomposition']) {
    const decomposer = new retrieval.ModelQueryDecomposer(providers.chat, { onFallback: () => (fallbacks += 1) });
    configurations.push([`hybrid, ${providers.chatModel.id} decomposition`, { ...common, decomposer }]);
  }
  const readable = new Map(documents.map((d) => [`${d.tenant}/${d.id}`, d]));
  const rows = [];
  for (const [name, options] of configurations) {
    const retriever = new retrieval.Retriever(embedder, store, options);
    const sums = { recall: 0, mrr: 0, ndcg: 0, scored: 0, leaked: 0, hiddenFound: 0, ms: [] };
    for (const q of questions) {
      const t = performance.now();
      const { passages } = await retriever.retrieve({ tenant: TENANT, collections: COLLECTIONS, topK: 10, query: q.question, groups: q.groups });
      sums.ms.push(performance.now() - t);
      sums.leaked += leakedPassages(passages, { tenant: TENANT, groups: q.groups }, readable);
      sums.hiddenFound += labelsHit(passages, q.hiddenRelevant ?? []).size;
      if (q.relevant.length === 0) continue;
      sums.scored++;
      sums.recall += recallAt(passages, q.relevant, 5);
      sums.mrr += reciprocalRankAt(passages, q.relevant, 10);
      sums.ndcg += ndcgAt(passages, q.relevant, 10);
    }
    const sorted = [...sums.ms].sort((a, b) => a - b);
    rows.push({
      configuration: name,
      'recall@5': sums.recall / sums.scored,
      'MRR@10': sums.mrr / sums.scored,
      'nDCG@10': sums.ndcg / sums.scored,
      leaked: sums.leaked + sums.hiddenFound,
      'p50 ms': sorted[Math.floor(sorted.length / 2)],
    });
  }

  const hidden = questions.filter((q) => q.relevant.length === 0).length;
  console.log(`corpus: ${chunks} chunks in ${documents.filter((d) => d.tenant === TENANT).length} documents across ${COLLECTIONS.length} collections (+ ${documents.length - documents.filter((d) => d.tenant === TENANT).length} documents of another tenant); embedding model ${providers.embeddingModel.id}`);
  console.log(`questions: ${questions.length} (${questions.filter((q) => q.relevant.length > 1).length} need two sources, ${hidden} ask only for documents the asker may not read); ingestion ${ingestSeconds.toFixed(1)} s`);
  console.log('');
  const header = ['configuration', 'recall@5', 'MRR@10', 'nDCG@10', 'leaked', 'p50 ms'];
  const widths = [Math.max(26, ...rows.map((r) => r.configuration.length)), 9, 7, 8, 7, 7];
  const cell = (v, i) => (typeof v === 'number' ? (i === 4 ? String(v) : v.toFixed(i === 5 ? 0 : 3)) : v).padEnd(widths[i]);
  console.log(`| ${header.map((h, i) => h.padEnd(widths[i])).join(' | ')} |`);
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(`| ${header.map((h, i) => cell(row[h], i)).join(' | ')} |`);
  console.log('');
  console.log(`leaked = passages from another tenant or from documents outside the asker's groups (must be 0); total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (args['model-decomposition']) console.log(`model decomposition fell back to the rules ${fallbacks} times of ${questions.length}`);
  if (args.json) console.log(JSON.stringify(rows));
  if (rows.some((r) => r.leaked > 0)) process.exitCode = 1;
} finally {
  await store.close();
  await providers.close();
}
