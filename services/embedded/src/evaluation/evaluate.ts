import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore } from '@llmbus/audit';
import type { EventBus } from '@llmbus/bus';
import { type Env, loadPlatformConfig } from '@llmbus/config';
import { createModelProviders, type ModelProviders, parseModelsConfig } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { PgliteVectorStore } from '@llmbus/retrieval';
import { busFromConfig } from '@llmbus/runtime';
import { DEFAULT_WORKFLOWS_DIR, loadWorkflowDirectory } from '@llmbus/workflows';
import { startPlatform } from '../platform';
import { type EvalDataset, loadDataset } from './dataset';
import { type ItemRun, runDataset } from './eval-runner';
import { renderHtmlReport } from './html-report';
import { type EvalReport, type ItemVerdict, judgeItem, summarise, type WorkflowFacts } from './metrics';
import { SCRIPTED_MODEL, ScriptedModelServer } from './scripted-model-server';

/** Which chat model answers: the scripted competent model, or what the environment configures (local GGUF by default). */
export type EvalModel = 'scripted' | 'configured';

export interface EvaluateOptions {
  /** Workflow id whose items run (`all`: every item of the dataset). */
  readonly workflow: string;
  readonly datasetPath: string;
  /** `embedded`: the five stages in this process on the in-process bus; `kafka`: the services already running on KAFKA_BROKERS. */
  readonly mode: 'embedded' | 'kafka';
  readonly model: EvalModel;
  readonly env: Env;
  readonly logger: Logger;
  /** Where `<dataset>-<model>.json` and `.html` go. */
  readonly outDir: string;
  /** Run only the first N items of each tag mix (`limit` items in dataset order). */
  readonly limit?: number;
  /** Only items with one of these ids. */
  readonly ids?: readonly string[];
  readonly concurrency?: number;
  readonly itemTimeoutMs?: number;
  /** Kafka mode with the scripted model: port the scripted server listens on (the generator's OPENAI_BASE_URL points there). */
  readonly scriptedPort?: number;
  /** Kafka mode: the bus to run on (the CLI builds it from KAFKA_BROKERS). */
  readonly bus?: EventBus;
  /** Called after each item, with its verdict. */
  readonly onItem?: (run: ItemRun, done: number, total: number, verdict: ItemVerdict) => void;
}

export interface EvaluateResult {
  readonly report: EvalReport;
  readonly jsonPath: string;
  readonly htmlPath: string;
}

/** Environment that points the OpenAI-compatible provider at the scripted server (trusted: it is this process). */
export function scriptedModelEnv(baseUrl: string): Record<string, string> {
  return {
    OPENAI_API_KEY: 'scripted-not-a-key',
    OPENAI_BASE_URL: baseUrl,
    OPENAI_CHAT_MODEL: SCRIPTED_MODEL,
    OPENAI_TRUSTED_FOR_PII: 'true',
    OPENAI_MAX_RETRIES: '0',
  };
}

/** Chat from the scripted endpoint, embeddings from the local model: retrieval stays real. */
function scriptedProviders(env: Env, baseUrl: string, logger: Logger): ModelProviders {
  const local = createModelProviders(
    parseModelsConfig({ ...env, OPENAI_API_KEY: undefined, LLMBUS_MODEL_PROVIDER: 'local' }),
    { logger },
  );
  const chat = createModelProviders(
    parseModelsConfig({ ...env, ...scriptedModelEnv(baseUrl), LLMBUS_MODEL_PROVIDER: 'openai' }),
    {
      logger,
    },
  );
  return {
    ...chat,
    embeddings: local.embeddings,
    embeddingModel: local.embeddingModel,
    available: [chat.chatModel, local.embeddingModel],
    select: (tier, capabilities) => chat.select(tier, capabilities),
    abortInFlight: (reason) => {
      chat.abortInFlight(reason);
      local.abortInFlight(reason);
    },
    close: async () => {
      await chat.close();
      await local.close();
    },
  };
}

/** Filters a dataset to the workflow, ids and limit asked for. */
function selected(dataset: EvalDataset, options: EvaluateOptions): EvalDataset {
  let items = dataset.items.filter((i) => options.workflow === 'all' || i.workflow === options.workflow);
  if (options.ids?.length) items = items.filter((i) => options.ids!.includes(i.id));
  if (options.limit !== undefined) items = spread(items, options.limit);
  if (items.length === 0)
    throw new Error(
      `no item of ${dataset.path} is for workflow ${options.workflow}${options.ids ? ` with ids ${options.ids.join(',')}` : ''}`,
    );
  return { ...dataset, items };
}

/** `limit` items spread evenly over the list (so a subset keeps the mix of answerable, abstain and escalate items). */
function spread<T>(items: readonly T[], limit: number): T[] {
  if (limit >= items.length) return [...items];
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]!);
}

/**
 * Runs a labelled dataset through the pipeline and writes the report as JSON and HTML. Embedded
 * mode starts the five stages in this process (PGlite stores in memory, local embeddings; chat
 * from the scripted server or the configured model). Kafka mode uses the services running on the
 * broker; with the scripted model it serves the scripted endpoint on `scriptedPort` for them.
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  const env = options.env;
  const workflowsDir = env['LLMBUS_WORKFLOWS_DIR'] || DEFAULT_WORKFLOWS_DIR;
  const workflows = loadWorkflowDirectory(workflowsDir);
  const known = [...new Set(workflows.map((w) => w.id))].sort();
  if (options.workflow !== 'all' && !known.includes(options.workflow))
    throw new Error(
      `unknown workflow ${options.workflow}: ${workflowsDir} defines ${known.join(', ')} (or use all)`,
    );
  const dataset = selected(loadDataset(options.datasetPath), options);
  const facts = new Map<string, WorkflowFacts>(
    workflows.map((w) => [
      `${w.id}@v${w.version}`,
      { citationsField: w.validation.citations?.field, abstentionField: w.validation.abstention?.field },
    ]),
  );
  const scripted = options.model === 'scripted' ? new ScriptedModelServer() : undefined;
  scripted?.register(dataset.items);
  const closers: (() => Promise<void>)[] = [];
  const started = Date.now();
  let modelName =
    options.model === 'scripted' ? `${SCRIPTED_MODEL} (answers scripted per item)` : 'configured';
  try {
    let bus: EventBus;
    if (options.mode === 'embedded') {
      const baseUrl = scripted ? await scripted.start() : undefined;
      if (scripted) closers.push(() => scripted.stop());
      const config = loadPlatformConfig(
        { ...env, LLMBUS_MODE: 'embedded', HTTP_PORT: '0', LLMBUS_DATA_DIR: '' },
        { mode: 'embedded', httpPort: 0, clientId: 'llmbus-eval' },
      );
      bus = busFromConfig(config, options.logger);
      closers.push(() => bus.close());
      const models = baseUrl
        ? scriptedProviders(env, baseUrl, options.logger)
        : createModelProviders(parseModelsConfig(env), { logger: options.logger });
      closers.push(() => models.close());
      if (!scripted) modelName = models.chatModel.id;
      const vectorStore = await PgliteVectorStore.open({});
      closers.push(() => vectorStore.close());
      const auditStore = await PgliteAuditStore.open({});
      closers.push(() => auditStore.close());
      const platform = await startPlatform({
        bus,
        config,
        env,
        logger: options.logger,
        apiKeys: ApiKeyRegistry.parse(`eval-${randomBytes(16).toString('hex')}:eval:admin`),
        models,
        vectorStore,
        auditStore,
        routerPort: 0,
        auditorPort: 0,
      });
      closers.push(() => platform.close());
    } else {
      if (!options.bus) throw new Error('kafka mode needs a bus on KAFKA_BROKERS');
      bus = options.bus;
      if (scripted) {
        await scripted.start(options.scriptedPort ?? 0);
        closers.push(() => scripted.stop());
      } else modelName = 'the generator service’s configured model';
    }
    const judge = (run: ItemRun) =>
      judgeItem(run, facts.get(run.workflowVersion) ?? factsOf(facts, run.item.workflow));
    const stem = join(options.outDir, `${basename(dataset.path).replace(/\.jsonl$/, '')}-${options.model}`);
    mkdirSync(options.outDir, { recursive: true });
    // A slow run (a local model on a busy machine) leaves its figures so far after every item.
    const sofar: ItemVerdict[] = [];
    const runs = await runDataset(bus, dataset, {
      concurrency: options.concurrency,
      itemTimeoutMs: options.itemTimeoutMs,
      onItem: (run, done, total) => {
        const verdict = judge(run);
        sofar.push(verdict);
        const items = dataset.items.filter((i) => sofar.some((v) => v.id === i.id));
        const partial = { done, total, versions: summarise(sofar, items), items: sofar };
        writeFileSync(`${stem}.partial.json`, JSON.stringify(partial, null, 2) + '\n');
        options.onItem?.(run, done, total, verdict);
      },
    });
    const verdicts = runs.map(judge);
    const report: EvalReport = {
      dataset: dataset.path,
      workflow: options.workflow,
      mode: options.mode,
      model: modelName,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      note:
        options.limit !== undefined || options.ids
          ? `Subset: ${dataset.items.length} items of the dataset.`
          : scripted
            ? `Scripted server: ${scripted.stats.answered} scripted answers, ${scripted.stats.fallbacks} fallbacks, ${scripted.stats.unmatched} unmatched prompts.`
            : undefined,
      versions: summarise(verdicts, dataset.items),
      items: verdicts,
    };
    writeFileSync(`${stem}.json`, JSON.stringify(report, null, 2) + '\n');
    writeFileSync(`${stem}.html`, renderHtmlReport(report));
    return { report, jsonPath: `${stem}.json`, htmlPath: `${stem}.html` };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

/** The newest version's facts of a workflow id (for items that ended without naming a version). */
function factsOf(facts: ReadonlyMap<string, WorkflowFacts>, workflow: string): WorkflowFacts {
  const versions = [...facts.keys()].filter((k) => k.startsWith(`${workflow}@v`)).sort();
  return facts.get(versions[versions.length - 1] ?? '') ?? {};
}
