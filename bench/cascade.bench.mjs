#!/usr/bin/env node
// npm run bench:cascade -- [--small-share 70] [--limit N] [--datasets support-ticket,knowledge-assistant,contract-review]
//
// Small → large cascade against always-large, over the workflows' eval datasets, through the real
// embedded pipeline (router, retriever with local embeddings, generator, validator, auditor) in
// registry mode with two OpenAI-compatible endpoints started here:
//   - "small" (priced as gpt-4o-mini, $0.15 / $0.60 per 1M tokens): answers an item correctly for
//     a fixed share of the items (a hash of the item id decides which, the same every run), and
//     otherwise gives a plausible but poor answer: the free text vague and uncited, citations
//     dropped, its own confidence low;
//   - "large" (priced as gpt-4o, $2.50 / $10.00): the eval's scripted competent model.
// Both are SCRIPTED servers, not models: the figures measure the platform's cascade (the
// validator's evidence-based confidence sending a poor small answer up one tier), not model
// quality. Prices are the published list prices of those models; tokens are counted by the
// servers as characters / 4. Prints, per dataset and overall: task success, cost per successful
// outcome (overall and by the tier that answered), total cost, calls per tier and why the cascade
// escalated; never asserts on time.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { parse: parseYaml, stringify: stringifyYaml } = require('yaml');
const embedded = require(join(root, 'services/embedded/dist/index.js'));
const { ApiKeyRegistry } = require(join(root, 'libs/access/dist/index.js'));
const { PgliteAuditStore } = require(join(root, 'libs/audit/dist/index.js'));
const { loadPlatformConfig } = require(join(root, 'libs/config/dist/index.js'));
const { createModelProviders, parseModelsConfig, loadModelRegistry } = require(join(root, 'libs/models/dist/index.js'));
const { createLogger } = require(join(root, 'libs/observability/dist/index.js'));
const { PgliteVectorStore } = require(join(root, 'libs/retrieval/dist/index.js'));
const { busFromConfig } = require(join(root, 'libs/runtime/dist/index.js'));
const { ModelCallRecordedEvent, RegenerationRequestedEvent } = require(join(root, 'contracts/dist/index.js'));
const { loadWorkflowDirectory } = require(join(root, 'libs/workflows/dist/index.js'));

const { values: args } = parseArgs({
  options: {
    'small-share': { type: 'string', default: '70' },
    limit: { type: 'string' },
    datasets: { type: 'string', default: 'support-ticket,knowledge-assistant,contract-review' },
    concurrency: { type: 'string', default: '4' },
  },
});
const SMALL_SHARE = Number(args['small-share']);
const DATASETS = args.datasets.split(',').map((s) => s.trim());
const PRICES = {
  small: { in: 0.15, out: 0.6, name: 'gpt-4o-mini list price' },
  large: { in: 2.5, out: 10, name: 'gpt-4o list price' },
};

/** Whether the small model gets this item right (the same items every run). */
function smallKnows(itemId) {
  return createHash('sha256').update(itemId).digest().readUInt32BE(0) % 100 < SMALL_SHARE;
}

/** A plausible poor answer from the correct one: vague uncited free text, no citations, low self-confidence. */
function degrade(value, key = '') {
  if (Array.isArray(value)) return /citation/i.test(key) ? [] : value.map((v) => degrade(v, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, degrade(v, k)]));
  }
  if (typeof value === 'string' && value.length > 40) {
    return 'Thanks for reaching out. This is generally handled according to the usual process; please check the relevant documentation for details.';
  }
  if (typeof value === 'number' && /confidence/i.test(key)) return 0.35;
  return value;
}

/** An OpenAI-compatible endpoint in front of the eval's scripted answers; `poor` picks items answered badly. */
async function endpoint(items, poor) {
  const scripted = new embedded.ScriptedModelServer();
  scripted.register(items);
  const needles = items
    .filter((i) => i.scripted)
    .map((item) => ({
      item,
      needle: Object.values(item.input)
        .filter((v) => typeof v === 'string')
        .sort((a, b) => b.length - a.length)[0],
    }))
    .filter((c) => c.needle);
  const calls = { total: 0 };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const prompt = (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
    calls.total += 1;
    let content = scripted.answer(prompt);
    const match = needles.find((c) => prompt.includes(c.needle));
    if (match && poor(match.item.id)) {
      try {
        content = JSON.stringify(degrade(JSON.parse(content)));
      } catch {
        /* keep the answer as it is */
      }
    }
    const usage = {
      prompt_tokens: Math.ceil(prompt.length / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: Math.ceil(prompt.length / 4) + Math.ceil(content.length / 4),
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-${randomBytes(6).toString('hex')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage,
      }),
    );
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    calls,
    stop: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** The shipped workflows with their model block rewritten by `edit`. */
function workflowsWith(edit) {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-cascade-'));
  for (const name of readdirSync(join(root, 'workflows')).filter((f) => f.endsWith('.yaml'))) {
    const workflow = parseYaml(readFileSync(join(root, 'workflows', name), 'utf8'));
    edit(workflow);
    writeFileSync(join(dir, name), stringifyYaml(workflow));
  }
  // Labelled examples of classifier steps live beside the workflows.
  cpSync(join(root, 'workflows', 'examples'), join(dir, 'examples'), { recursive: true });
  return dir;
}

async function runConfiguration(label, workflowsDir, dataset, small, large) {
  const registryPath = join(mkdtempSync(join(tmpdir(), 'llmbus-cascade-registry-')), 'models.registry.json');
  const shipped = loadModelRegistry();
  writeFileSync(
    registryPath,
    JSON.stringify({
      models: [
        shipped.get('local/all-minilm-l6-v2'),
        {
          id: 'bench/small', provider: 'openai', model: 'small', baseURL: small.url, apiKeyEnv: 'BENCH_SMALL_KEY',
          contextWindow: 128000, pricePer1MInputUsd: PRICES.small.in, pricePer1MOutputUsd: PRICES.small.out,
          capabilities: ['chat', 'json', 'tools'], tier: 'small', trustedForPii: true,
        },
        {
          id: 'bench/large', provider: 'openai', model: 'large', baseURL: large.url, apiKeyEnv: 'BENCH_LARGE_KEY',
          contextWindow: 128000, pricePer1MInputUsd: PRICES.large.in, pricePer1MOutputUsd: PRICES.large.out,
          capabilities: ['chat', 'json', 'tools'], tier: 'large', trustedForPii: true,
        },
      ],
    }),
  );
  const env = {
    ...process.env,
    LLMBUS_MODEL_PROVIDER: 'registry',
    LLMBUS_MODELS_REGISTRY: registryPath,
    BENCH_SMALL_KEY: 'scripted',
    BENCH_LARGE_KEY: 'scripted',
    OPENAI_API_KEY: '',
    OPENAI_MAX_RETRIES: '0',
    LLMBUS_WORKFLOWS_DIR: workflowsDir,
    LLMBUS_MODE: 'embedded',
    HTTP_PORT: '0',
    LLMBUS_DATA_DIR: '',
  };
  const logger = createLogger({ service: 'bench-cascade', level: 'fatal' });
  const config = loadPlatformConfig(env, { mode: 'embedded', httpPort: 0, clientId: 'bench-cascade' });
  const bus = busFromConfig(config, logger);
  const models = createModelProviders(parseModelsConfig(env), { logger });
  const vectorStore = await PgliteVectorStore.open({});
  const auditStore = await PgliteAuditStore.open({});
  const calls = new Map(); // requestId → [{modelId, costUsd}]
  const escalations = new Map(); // reason → count
  await bus.subscribe({
    stage: 'auditor',
    groupId: `bench-cascade-${randomBytes(4).toString('hex')}`,
    notifyRequester: false,
    handlers: {
      [ModelCallRecordedEvent.type]: async (e) => {
        const list = calls.get(e.data.requestId) ?? [];
        list.push({ modelId: e.data.usage.modelId, costUsd: e.data.usage.costUsd });
        calls.set(e.data.requestId, list);
        return [];
      },
      [RegenerationRequestedEvent.type]: async (e) => {
        const reason = (e.data.violations?.[0] ?? 'regeneration').replace(/\d+(\.\d+)?/g, 'N').slice(0, 70);
        escalations.set(reason, (escalations.get(reason) ?? 0) + 1);
        return [];
      },
    },
  });
  const platform = await embedded.startPlatform({
    bus, config, env, logger,
    apiKeys: ApiKeyRegistry.parse(`bench-${randomBytes(16).toString('hex')}:bench:admin`),
    models, vectorStore, auditStore, routerPort: 0, auditorPort: 0,
  });
  const facts = new Map(
    loadWorkflowDirectory(workflowsDir).map((w) => [
      `${w.id}@v${w.version}`,
      { citationsField: w.validation.citations?.field, abstentionField: w.validation.abstention?.field },
    ]),
  );
  const started = Date.now();
  try {
    const runs = await embedded.runDataset(bus, dataset, { concurrency: Number(args.concurrency), itemTimeoutMs: 300_000 });
    // Model call records may trail the outcome by a moment.
    await new Promise((r) => setTimeout(r, 1000));
    const verdicts = runs.map((run) => ({ run, verdict: embedded.judgeItem(run, facts.get(run.workflowVersion) ?? {}) }));
    let cost = 0;
    const perTier = { 'bench/small': { calls: 0, cost: 0 }, 'bench/large': { calls: 0, cost: 0 } };
    for (const { run } of verdicts) {
      for (const call of calls.get(run.requestId) ?? []) {
        cost += call.costUsd;
        const tier = perTier[call.modelId] ?? (perTier[call.modelId] = { calls: 0, cost: 0 });
        tier.calls += 1;
        tier.cost += call.costUsd;
      }
    }
    // Cost per successful outcome by the tier whose answer ended the request (its last call): a
    // request's cost counts every tier it was sent to.
    const byFinalTier = {};
    for (const { run, verdict } of verdicts) {
      const list = calls.get(run.requestId) ?? [];
      const last = list.at(-1)?.modelId ?? 'none';
      const row = byFinalTier[last] ?? (byFinalTier[last] = { items: 0, successes: 0, cost: 0 });
      row.items += 1;
      if (verdict.success) row.successes += 1;
      row.cost += list.reduce((sum, call) => sum + call.costUsd, 0);
    }
    const successes = verdicts.filter((v) => v.verdict.success).length;
    const wrongAccepted = verdicts.filter((v) => v.verdict.acceptedButWrong).length;
    return {
      label,
      items: verdicts.length,
      successes,
      taskSuccess: successes / verdicts.length,
      acceptedButWrong: wrongAccepted / verdicts.length,
      cost,
      costPerSuccess: successes === 0 ? Infinity : cost / successes,
      perTier,
      byFinalTier,
      escalations,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await platform.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await models.close().catch(() => undefined);
    await vectorStore.close().catch(() => undefined);
    await auditStore.close().catch(() => undefined);
  }
}

const usd = (v) => `$${v.toFixed(6)}`;
const pct = (v) => `${(v * 100).toFixed(1)}%`;
const totals = { cascade: { cost: 0, successes: 0, items: 0 }, large: { cost: 0, successes: 0, items: 0 } };
console.log(
  `bench:cascade: small answers ${SMALL_SHARE}% of items correctly (scripted), large all (scripted); ` +
    `prices: small ${PRICES.small.name} $${PRICES.small.in}/$${PRICES.small.out}, large ${PRICES.large.name} $${PRICES.large.in}/$${PRICES.large.out} per 1M tokens in/out`,
);
const cascadeDir = workflowsWith((w) => {
  w.model.cascade = ['small', 'large'];
  w.validation.maxAttempts = Math.max(2, w.validation.maxAttempts ?? 2);
  for (const rule of w.match ?? []) delete rule.modelTier;
});
const largeDir = workflowsWith((w) => {
  w.model.tier = 'large';
  for (const rule of w.match ?? []) delete rule.modelTier;
});
for (const name of DATASETS) {
  let dataset = embedded.loadDataset(join(root, 'eval/workflows', `${name}.jsonl`));
  if (args.limit) dataset = { ...dataset, items: dataset.items.slice(0, Number(args.limit)) };
  const small = await endpoint(dataset.items, (id) => !smallKnows(id));
  const large = await endpoint(dataset.items, () => false);
  try {
    const results = [];
    for (const [label, dir] of [['cascade', cascadeDir], ['large', largeDir]]) {
      const r = await runConfiguration(label, dir, dataset, small, large);
      results.push(r);
      totals[label].cost += r.cost;
      totals[label].successes += r.successes;
      totals[label].items += r.items;
    }
    console.log(`\n${name} (${dataset.items.length} items)`);
    console.log('configuration   success  acc-wrong  cost/success   total cost   small calls  large calls   seconds');
    for (const r of results) {
      console.log(
        `${r.label.padEnd(14)} ${pct(r.taskSuccess).padStart(8)} ${pct(r.acceptedButWrong).padStart(10)} ${usd(r.costPerSuccess).padStart(13)} ${usd(r.cost).padStart(12)} ${String(r.perTier['bench/small'].calls).padStart(12)} ${String(r.perTier['bench/large'].calls).padStart(12)} ${r.seconds.toFixed(0).padStart(9)}`,
      );
    }
    const [c, l] = results;
    console.log(
      `cascade vs always-large: cost per success ${pct(1 - c.costPerSuccess / l.costPerSuccess)} cheaper, task success ${((c.taskSuccess - l.taskSuccess) * 100).toFixed(1)} points`,
    );
    const reasons = [...c.escalations].sort((a, b) => b[1] - a[1]).slice(0, 4);
    if (reasons.length) console.log(`why the cascade escalated (first violation): ${reasons.map(([r, n]) => `${n}× ${r}`).join('; ')}`);
    console.log(
      `per tier (cascade): small ${c.perTier['bench/small'].calls} calls ${usd(c.perTier['bench/small'].cost)}, large ${c.perTier['bench/large'].calls} calls ${usd(c.perTier['bench/large'].cost)}`,
    );
    for (const r of results) {
      const rows = Object.entries(r.byFinalTier)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([tier, t]) =>
            `${tier.replace('bench/', '')} ${t.successes}/${t.items} succeeded, ${t.successes === 0 ? 'n/a' : usd(t.cost / t.successes)} per success`,
        );
      console.log(`cost per successful outcome by answering tier (${r.label}): ${rows.join('; ')}`);
    }
  } finally {
    await small.stop();
    await large.stop();
  }
}
const c = totals.cascade;
const l = totals.large;
console.log(
  `\noverall: cascade ${usd(c.cost / c.successes)} per success (${pct(c.successes / c.items)} success), always-large ${usd(l.cost / l.successes)} per success (${pct(l.successes / l.items)} success): ` +
    `${pct(1 - c.cost / c.successes / (l.cost / l.successes))} cheaper, quality ${(((c.successes / c.items) - (l.successes / l.items)) * 100).toFixed(1)} points`,
);
process.exit(0);
