#!/usr/bin/env node
// Fits the retriever's relevance model (libs/retrieval/src/ranking/relevance-model.ts) on the
// TUNING questions only: held-out and fresh questions are never used here, so their figures in
// `npm run eval:retrieval` are measured on questions the model never saw.
//   node eval/retrieval/calibrate.mjs [--embedding-cache FILE] [--from FEATURES.json] [--lambda 1]
//     [--features bestCosine,cosineMargin,...]
// Without --from it ingests the corpus and runs the default retriever (hybrid) over the tuning
// questions with the real local embedding model; --from reads features that run-eval.mjs wrote
// with --features (its "hybrid" rows of the tuning set only). --features names the features the
// model uses (default: every one of RELEVANCE_FEATURES). Prints the model as TypeScript, and the
// tuning accuracy of `answerable` at thresholds 0.05 to 0.5 (the default threshold is the best).
//
// The model: logistic regression on standardised features, L2 penalty `lambda` (not on the
// intercept), both classes weighted equally (answerable questions outnumber unanswerable ones
// about 6 to 1 in the tuning set, and the share differs from set to set: an unweighted intercept
// would carry the tuning set's share into every set), fitted by Newton's method.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values: args } = parseArgs({
  options: {
    'embedding-cache': { type: 'string' },
    from: { type: 'string' },
    lambda: { type: 'string', default: '1' },
    // balanced: both classes weigh the same in the fit; none: every question weighs 1.
    'class-weights': { type: 'string', default: 'balanced' },
    features: { type: 'string' },
  },
});

// Checked before anything is read: NaN or a negative penalty fitted NaN or diverging coefficients,
// and an unknown weighting silently meant none.
const LAMBDA = Number(args.lambda);
if (args.lambda.trim() === '' || !Number.isFinite(LAMBDA) || LAMBDA < 0) {
  console.error(`eval:calibrate: --lambda: "${args.lambda}" is not a number ≥ 0 (the L2 penalty, default 1)`);
  process.exit(1);
}
if (!['balanced', 'none'].includes(args['class-weights'])) {
  console.error(`eval:calibrate: --class-weights: "${args['class-weights']}" is not balanced or none`);
  process.exit(1);
}

const retrieval = require(join(here, '..', '..', 'libs/retrieval/dist/index.js'));
const NAMES = args.features ? args.features.split(',').map((n) => n.trim()) : retrieval.RELEVANCE_FEATURES;
const unknown = NAMES.filter((n) => !retrieval.RELEVANCE_FEATURES.includes(n));
if (unknown.length > 0) throw new Error(`--features: unknown ${unknown.join(', ')}; known: ${retrieval.RELEVANCE_FEATURES.join(', ')}`);

const rows = args.from ? fromFile(args.from) : await fromRetrieval();
const model = fit(rows, LAMBDA);
const probabilities = rows.map((r) => retrieval.relevanceProbability(model, r.features));
const predicted = probabilities.map((p) => p >= 0.5);
const correct = rows.filter((r, i) => predicted[i] === r.answerable).length;
console.log(`tuning questions: ${rows.length} (${rows.filter((r) => !r.answerable).length} unanswerable); accuracy of the fitted model on them: ${(correct / rows.length).toFixed(3)}`);
console.log(`leave-one-out accuracy on them: ${leaveOneOut(rows, LAMBDA).toFixed(3)}`);
const thresholds = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5].map((t) => {
  const answerable = rows.filter((r) => r.answerable).length;
  const kept = rows.filter((r, i) => r.answerable && probabilities[i] >= t).length;
  const caught = rows.filter((r, i) => !r.answerable && probabilities[i] < t).length;
  const accuracy = (kept + caught) / rows.length;
  return { t, accuracy, text: `${t}: ${accuracy.toFixed(3)} (abstains on ${answerable - kept} of ${answerable} answerable, catches ${caught} of ${rows.length - answerable} unanswerable)` };
});
for (const { text } of thresholds) console.log(`answerable from relevance ${text}`);
// Ties go to the threshold nearer 0.5, where both classes weigh the same.
const best = thresholds.reduce((a, b) => (b.accuracy > a.accuracy || (b.accuracy === a.accuracy && Math.abs(b.t - 0.5) < Math.abs(a.t - 0.5)) ? b : a));
console.log(`highest tuning accuracy at ${best.t} (RETRIEVAL_ANSWERABLE_RELEVANCE)`);
console.log('\nexport const DEFAULT_RELEVANCE_MODEL: RelevanceModel = {');
console.log(`  intercept: ${round(model.intercept)},`);
console.log('  features: {');
for (const name of NAMES) {
  const f = model.features[name];
  console.log(`    ${name}: { weight: ${round(f.weight)}, mean: ${round(f.mean)}, scale: ${round(f.scale)} },`);
}
console.log('  },\n};');

function round(x) {
  return Number(x.toFixed(4));
}

function fromFile(file) {
  return JSON.parse(readFileSync(file, 'utf8'))
    .filter((r) => r.set === 'tuning' && r.configuration === 'hybrid' && r.features)
    .map((r) => ({ answerable: r.answerable, features: r.features }));
}

async function fromRetrieval() {
  const { ingestAll, memoised, questions } = await import('./corpus.mjs');
  const { createModelProviders, parseModelsConfig } = require(join(here, '..', '..', 'libs/models/dist/index.js'));
  const providers = createModelProviders(parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' }));
  const store = await retrieval.PgliteVectorStore.open();
  try {
    const embedder = memoised(providers.embeddings, providers.embeddingModel.id, args['embedding-cache']);
    await ingestAll(retrieval, embedder, store);
    const retriever = new retrieval.Retriever(embedder, store, { maxContextTokens: 100_000, decomposer: retrieval.NO_DECOMPOSITION, relevanceFeatures: 'all' });
    const out = [];
    for (const q of questions.filter((x) => x.set === 'tuning')) {
      const result = await retriever.retrieve({ tenant: q.tenant, collections: q.collections, topK: 10, query: q.question, groups: q.groups });
      if (result.relevanceFeatures) out.push({ answerable: q.relevant.length > 0, features: result.relevanceFeatures });
    }
    embedder.save();
    return out;
  } finally {
    await store.close();
    await providers.close();
  }
}

/** Balanced-class, L2-penalised logistic regression on standardised features (Newton's method). */
function fit(data, lambda) {
  const stats = NAMES.map((name) => {
    const xs = data.map((r) => r.features[name]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) || 1;
    return { mean, scale: sd };
  });
  const X = data.map((r) => [1, ...NAMES.map((n, j) => (r.features[n] - stats[j].mean) / stats[j].scale)]);
  const y = data.map((r) => (r.answerable ? 1 : 0));
  const positives = y.filter((v) => v === 1).length;
  const balanced = args['class-weights'] === 'balanced';
  const weight = y.map((v) => (!balanced ? 1 : v === 1 ? data.length / (2 * positives) : data.length / (2 * (data.length - positives))));
  const d = NAMES.length + 1;
  let beta = new Array(d).fill(0);
  for (let iteration = 0; iteration < 50; iteration++) {
    const gradient = new Array(d).fill(0);
    const hessian = Array.from({ length: d }, () => new Array(d).fill(0));
    X.forEach((x, i) => {
      const p = 1 / (1 + Math.exp(-x.reduce((s, v, j) => s + v * beta[j], 0)));
      for (let j = 0; j < d; j++) {
        gradient[j] += weight[i] * (y[i] - p) * x[j];
        for (let k = 0; k < d; k++) hessian[j][k] += weight[i] * p * (1 - p) * x[j] * x[k];
      }
    });
    for (let j = 1; j < d; j++) {
      gradient[j] -= lambda * beta[j];
      hessian[j][j] += lambda;
    }
    const step = solve(hessian, gradient);
    beta = beta.map((b, j) => b + step[j]);
    if (Math.max(...step.map(Math.abs)) < 1e-9) break;
  }
  return {
    intercept: beta[0],
    features: Object.fromEntries(NAMES.map((n, j) => [n, { weight: beta[j + 1], mean: stats[j].mean, scale: stats[j].scale }])),
  };
}

function leaveOneOut(data, lambda) {
  let correct = 0;
  data.forEach((r, i) => {
    const m = fit(data.filter((_, j) => j !== i), lambda);
    if ((retrieval.relevanceProbability(m, r.features) >= 0.5) === r.answerable) correct += 1;
  });
  return correct / data.length;
}

/** Solves A x = b by Gaussian elimination with partial pivoting. */
function solve(A, b) {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[pivot][c])) pivot = r;
    [M[c], M[pivot]] = [M[pivot], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) x[r] = (M[r][n] - M[r].slice(r + 1, n).reduce((s, v, k) => s + v * x[r + 1 + k], 0)) / M[r][r];
  return x;
}
