#!/usr/bin/env node
// Local model benchmark through the @llmbus/models adapter (worker thread, queues, grammars), from
// the compiled lib (run `npm run build` first; `npm run bench:models` does). Prints medians of
// several runs; never asserts on time. Bounded to well under 2 minutes.
//   node bench/models.bench.mjs [--runs 5]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'libs', 'models', 'dist', 'index.js');
const BUDGET_MS = 100_000;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Math.min(7, Number(values.runs) || 5));

if (!existsSync(DIST)) {
  console.error(`bench: ${DIST} is missing; run \`npm run build\` (or \`npx tsc -b libs/models\`) first`);
  process.exit(1);
}
const require = createRequire(import.meta.url);
const { createModelProviders, parseModelsConfig } = require(DIST);

const config = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const started = performance.now();
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;
const overBudget = () => performance.now() - started > BUDGET_MS;

const paragraph =
  'Customer reports that invoices for the enterprise plan were sent twice this month, the second one with a wrong VAT number. ' +
  'They ask for a corrected invoice, a refund of the duplicate charge and confirmation that future invoices will use the new address. ';
const embeddingTexts = Array.from(
  { length: 32 },
  (_, i) => `Ticket ${i}: the customer cannot reset the password for account number ${1000 + i}.`,
);
const triageSchema = {
  type: 'object',
  required: ['category', 'priority', 'summary'],
  properties: {
    category: { enum: ['billing', 'bug', 'account', 'other'] },
    priority: { type: 'integer' },
    summary: { type: 'string', maxLength: 160 },
  },
};

/** Times a generation by its deltas: the first delta ends prompt processing, the rest is decoding. */
async function timedGeneration(provider, request) {
  const t0 = performance.now();
  let first;
  let last;
  const response = await provider.chat({
    ...request,
    onDelta: () => {
      last = performance.now();
      first ??= last;
    },
  });
  const decodeMs = last - first;
  return {
    response,
    promptTokensPerS: response.usage.promptTokens / ((first - t0) / 1000),
    generatedTokensPerS: decodeMs > 0 ? (response.usage.completionTokens - 1) / (decodeMs / 1000) : NaN,
  };
}

const figures = {
  chatLoadMs: [],
  embeddingLoadMs: [],
  promptTokS: [],
  genTokS: [],
  genTokens: [],
  jsonTokens: [],
  jsonTokS: [],
  jsonCallMs: [],
  embeddingsPerS: [],
};
let completed = 0;
for (let run = 0; run < runs && !overBudget(); run++) {
  const models = createModelProviders(config);
  try {
    const warm = await models.chat.warmUp();
    figures.chatLoadMs.push(warm.chatLoadMs);
    figures.embeddingLoadMs.push(warm.embeddingLoadMs);

    const prompt = await timedGeneration(models.chat, {
      messages: [{ role: 'user', content: `${paragraph.repeat(6)}\nSummarise the ticket.` }],
      maxTokens: 2,
    });
    figures.promptTokS.push(prompt.promptTokensPerS);

    const free = await timedGeneration(models.chat, {
      // Counting keeps the base model going until maxTokens, so decoding speed is measured on 96 tokens.
      messages: [{ role: 'user', content: 'Count from 1 to 100: 1, 2, 3, 4, 5,' }],
      maxTokens: 96,
    });
    figures.genTokS.push(free.generatedTokensPerS);
    figures.genTokens.push(free.response.usage.completionTokens);

    const json = await timedGeneration(models.chat, {
      messages: [{ role: 'user', content: `${paragraph}\nTriage this ticket.` }],
      responseSchema: { name: 'triage', schema: triageSchema },
      maxTokens: 256,
    });
    figures.jsonTokS.push(json.generatedTokensPerS);
    figures.jsonTokens.push(json.response.usage.completionTokens);
    figures.jsonCallMs.push(json.response.usage.latencyMs);

    await models.embeddings.embed(embeddingTexts.slice(0, 4)); // first-call effects out of the way
    const t0 = performance.now();
    await models.embeddings.embed(embeddingTexts);
    figures.embeddingsPerS.push(embeddingTexts.length / ((performance.now() - t0) / 1000));
    completed++;
    console.log(`run ${run + 1}/${runs} done at ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await models.close();
  }
}

const fmt = (values, digits = 0) => (values.length ? median(values).toFixed(digits) : 'n/a');
console.log(
  `\nlocal models, median of ${completed} run(s), ${config.local.threads} threads, Node ${process.version}`,
);
console.table({
  'chat model load (ms)': fmt(figures.chatLoadMs),
  'embedding model load (ms)': fmt(figures.embeddingLoadMs),
  'prompt processing (tokens/s)': fmt(figures.promptTokS),
  'generation, free text (tokens/s)': fmt(figures.genTokS, 1),
  'tokens generated, free text': fmt(figures.genTokens),
  'generation, JSON grammar (tokens/s)': fmt(figures.jsonTokS, 1),
  'tokens generated, triage JSON': fmt(figures.jsonTokens),
  'triage JSON call, end to end (ms)': fmt(figures.jsonCallMs),
  'embeddings, batches of 32 (texts/s)': fmt(figures.embeddingsPerS, 1),
  'peak RSS of the process (MiB)': maxRssMiB().toFixed(0),
});
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
