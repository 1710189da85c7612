#!/usr/bin/env node
// `orchestrate`: operator CLI on the Kafka bus (distributed mode). Uses the compiled libs; the npm
// script `npm run orchestrate -- <command>` builds them first.
//   orchestrate ingest <file|dir> --collection hr-policies --tenant acme [--acl hr,legal] [--doc-version 2]
//   orchestrate delete <documentId> --collection hr-policies --tenant acme
//   orchestrate replay --stage router [--reason processing_error,model_error] [--request <id>]
//   orchestrate replay-request <requestId> --tenant <id> [--workflow-version <n>] [--model <id>] [--schema <name>]
//   orchestrate audit verify [--tenant <id>] [--schema <name>]
//   orchestrate audit retain [--policy <file.json>] [--dry-run] [--as-of <time>] [--schema <name>]
//   orchestrate eval <workflow|all> <dataset.jsonl> [--model scripted|configured] [--kafka] [--limit n] [--out dir]
// Reads KAFKA_BROKERS and LLMBUS_TOPIC_PREFIX like the services do; the audit commands and
// replay-request read DATABASE_URL (replay-request also the model variables, as the generator does).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
require('reflect-metadata');
const { loadPlatformConfig } = require(join(root, 'libs/config/dist/index.js'));
const { distributedBus } = require(join(root, 'libs/runtime/dist/index.js'));
const { outgoing, replayDeadLetters } = require(join(root, 'libs/bus/dist/index.js'));
const { createLogger } = require(join(root, 'libs/observability/dist/index.js'));
const contracts = require(join(root, 'contracts/dist/index.js'));
const audit = require(join(root, 'libs/audit/dist/index.js'));

const CONTENT_TYPES = { '.md': 'text/markdown', '.markdown': 'text/markdown', '.html': 'text/html', '.htm': 'text/html', '.txt': 'text/plain' };
const MAX_CONTENT_CHARS = 1_000_000; // DocumentSubmitted.content limit
const BATCH = 16;

const id = (value, what) => {
  if (!contracts.ID_PATTERN.test(value)) throw new InvalidArgumentError(`${what} ${contracts.ID_MESSAGE}`);
  return value;
};
const groups = (value) => value.split(',').map((g) => g.trim()).filter(Boolean);
const positiveInt = (value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number from 1');
  return n;
};
const port = (value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('a TCP port from 1 to 65535');
  return n;
};

/** Reads a JSON file the user named, saying which option and file when it is missing or not JSON. */
function readJsonOption(option, file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${option} ${file}: cannot read it (${error.code ?? error.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${option} ${file}: not JSON (${error.message})`);
  }
}

/** Every file under a path (or the file itself), sorted, with the id it gets: its path relative to the root, slugged. */
function filesUnder(path) {
  const base = resolve(path);
  const stat = statSync(base);
  const walk = (p) => (statSync(p).isDirectory() ? readdirSync(p).sort().flatMap((e) => (e.startsWith('.') ? [] : walk(join(p, e)))) : [p]);
  const files = stat.isDirectory() ? walk(base) : [base];
  return files.map((file) => {
    const rel = stat.isDirectory() ? relative(base, file) : basename(file);
    const documentId = rel.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9._:-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128);
    return { file, rel, documentId };
  });
}

function titleOf(content, contentType, fallback) {
  const heading = contentType === 'text/markdown' ? /^#\s+(.+)$/m.exec(content) : contentType === 'text/html' ? /<title>([^<]+)<\/title>|<h1[^>]*>([^<]+)<\/h1>/i.exec(content) : undefined;
  return contracts.truncateText((heading?.[1] ?? heading?.[2] ?? fallback).trim(), 500);
}

async function withBus(work) {
  const config = loadPlatformConfig({ LLMBUS_MODE: 'distributed', ...process.env }, { mode: 'distributed', httpPort: 0, clientId: 'llmbus-cli', servesHttp: false });
  const logger = createLogger({ service: 'orchestrate', level: process.env.LOG_LEVEL ?? 'fatal' });
  const bus = distributedBus(config, logger, 'orchestrate');
  try {
    return await work(bus, config);
  } finally {
    await bus.close();
  }
}

async function ingest(path, options) {
  const files = filesUnder(path);
  // Files whose ids collide ("a b.md", "a-b.md", "a b.txt" are all "a-b") would overwrite each
  // other in the index, leaving only the last one: none of them is published, each is listed.
  const filesById = new Map();
  for (const { rel, documentId } of files) {
    if (CONTENT_TYPES[extname(rel).toLowerCase()]) filesById.set(documentId, [...(filesById.get(documentId) ?? []), rel]);
  }
  const summary = { published: 0, skipped: [], bytes: 0 };
  await withBus(async (bus, config) => {
    const bar = new cliProgress.SingleBar({ format: 'ingest [{bar}] {value}/{total} files | {file}', hideCursor: true }, cliProgress.Presets.shades_classic);
    bar.start(files.length, 0, { file: '' });
    let batch = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await bus.publish(batch);
      summary.published += batch.length;
      batch = [];
    };
    for (const { file, rel, documentId } of files) {
      bar.increment(1, { file: rel });
      const contentType = CONTENT_TYPES[extname(file).toLowerCase()];
      if (!contentType) {
        summary.skipped.push(`${rel}: not .md, .html or .txt`);
        continue;
      }
      if (!contracts.ID_PATTERN.test(documentId)) {
        summary.skipped.push(`${rel}: no usable document id`);
        continue;
      }
      const sameId = filesById.get(documentId).filter((other) => other !== rel);
      if (sameId.length > 0) {
        summary.skipped.push(
          `${rel}: its document id "${documentId}" is also the id of ${sameId.join(', ')}; rename the files so that their ids differ (an id is the path without extension, other characters than letters, digits, ".", "_", ":" and "-" replaced by "-")`,
        );
        continue;
      }
      const content = readFileSync(file, 'utf8');
      const bytes = Buffer.byteLength(content);
      if (content.length > MAX_CONTENT_CHARS || bytes > config.maxEventBytes - 8192) {
        summary.skipped.push(`${rel}: ${bytes} bytes, over the event limit (LLMBUS_MAX_EVENT_BYTES ${config.maxEventBytes})`);
        continue;
      }
      const payload = {
        documentId,
        collection: options.collection,
        title: titleOf(content, contentType, basename(file)),
        sourceUri: contracts.truncateText(`file://${file}`, 2000),
        contentType,
        content,
        aclGroups: options.acl ?? [],
        version: options.docVersion,
      };
      // Text no store can hold (U+0000, e.g. a binary file) would be refused by the retriever: say so now.
      const unstorable = contracts.describeUnstorableText(contracts.findUnstorableText(payload));
      if (unstorable.length > 0) {
        summary.skipped.push(`${rel}: ${unstorable.join('; ')}`);
        continue;
      }
      batch.push(outgoing(contracts.DocumentSubmittedEvent, payload, { tenantId: options.tenant }));
      summary.bytes += bytes;
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    bar.stop();
  });
  const topic = contracts.topicName(contracts.Topics.DocumentIngest, process.env.LLMBUS_TOPIC_PREFIX ?? '');
  console.log(`published ${summary.published} of ${files.length} files (${(summary.bytes / 1024).toFixed(0)} KiB) to ${topic} for tenant ${options.tenant}, collection ${options.collection}, ACL ${options.acl?.join(',') || 'whole tenant'}`);
  for (const reason of summary.skipped) console.log(`  skipped ${reason}`);
  console.log('the retriever reports each indexed document on documents.indexed.v1');
  if (summary.published === 0) process.exitCode = 1;
}

async function remove(documentId, options) {
  await withBus((bus) => bus.publish([outgoing(contracts.DocumentDeletedEvent, { documentId, collection: options.collection }, { tenantId: options.tenant })]));
  console.log(`published DocumentDeleted for ${documentId} (tenant ${options.tenant}, collection ${options.collection})`);
}

async function replay(options) {
  await withBus(async (bus) => {
    const report = await replayDeadLetters(bus, options.stage, { reasonCodes: options.reason, correlationId: options.request });
    console.log(
      `read ${report.scanned} dead letters of the ${options.stage}; replayed ${report.replayed} to their original topics` +
        (report.truncated ? `; ${report.truncated} matching ones were kept truncated or sanitised and cannot be replayed` : ''),
    );
  });
}

function databaseUrl() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: the audit commands read the auditor's PostgreSQL (postgres://user:password@host:port/database)");
  return url;
}

async function auditVerify(options) {
  const store = audit.PostgresAuditStore.reader({ connectionString: databaseUrl(), schema: options.schema, timeoutMs: 120_000 });
  try {
    const reports = await store.verifyChains({ tenantId: options.tenant });
    let broken = 0;
    let empty = 0;
    for (const r of reports) {
      // A tenant with no rows at all (only a named one can be): nothing was verified, so say so.
      if (!r.broken && r.verified === 0 && !r.beforeChain && !r.head) {
        empty++;
        console.log(`tenant ${r.tenantId} has no audit records: nothing to verify (check the tenant id, DATABASE_URL and --schema)`);
        continue;
      }
      const notes = [r.beforeChain ? `${r.beforeChain} recorded before the chain began (not covered)` : '', r.payloadsRemoved ? `${r.payloadsRemoved} payloads removed by retention` : ''].filter(Boolean).join('; ');
      if (r.broken) {
        broken++;
        const b = r.broken;
        console.log(`tenant ${r.tenantId}: BROKEN at record ${b.chainSeq === undefined ? '(no chain position)' : `#${b.chainSeq}`} (seq ${b.seq}, event ${b.eventId}, ${b.type}): ${b.problem}; ${r.verified} records before it verify`);
      } else {
        console.log(`tenant ${r.tenantId}: ${r.verified} records verify${r.head ? `, head #${r.head.chainSeq} ${r.head.hash}` : ''}${notes ? ` (${notes})` : ''}`);
      }
    }
    if (reports.length === 0) console.log(options.tenant ? `tenant ${options.tenant} has no audit records` : 'the audit store holds no records');
    if (broken > 0) {
      console.log(`${broken} of ${reports.length} tenant chains are broken`);
      process.exitCode = 1;
    }
    // Like `ingest` publishing nothing: a named tenant without records is a missing thing (exit 1),
    // so a script cannot take "nothing verified" for "verified".
    if (empty > 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

/**
 * Re-runs generation and validation of a recorded request (its recorded input, passages and
 * workflow version, or the ones named) with the generator's and validator's own code, and prints
 * recorded and new side by side. Publishes nothing: no bus is opened.
 */
async function replayRequest(requestId, options) {
  const runtime = require(join(root, 'libs/runtime/dist/index.js'));
  const { ResponseGeneration, chatModelChooser } = require(join(root, 'services/generator/dist/index.js'));
  const { ResponseValidation } = require(join(root, 'services/validator/dist/index.js'));
  const { AuditPrivacy } = require(join(root, 'services/auditor/dist/index.js'));
  const { createModelProviders, isTrustedForPii, parseModelsConfig } = require(join(root, 'libs/models/dist/index.js'));
  const { WorkflowRegistry, DEFAULT_WORKFLOWS_DIR } = require(join(root, 'libs/workflows/dist/index.js'));
  const pii = require(join(root, 'libs/pii/dist/index.js'));
  const { MODEL_CALL_DEADLINE_MS } = require(join(root, 'libs/config/dist/index.js'));

  const config = loadPlatformConfig({ ...process.env, LLMBUS_MODE: 'embedded' }, { mode: 'embedded', httpPort: 0, clientId: 'llmbus-cli', servesHttp: false });
  const logger = createLogger({ service: 'orchestrate', level: process.env.LOG_LEVEL ?? 'fatal' });
  const workflows = WorkflowRegistry.fromDirectory(config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR);
  const store = audit.PostgresAuditStore.reader({ connectionString: databaseUrl(), schema: options.schema, timeoutMs: 120_000 });
  let trail;
  try {
    trail = await store.trail(options.tenant, requestId);
  } finally {
    await store.close();
  }
  // Payloads are stored masked when LLMBUS_PII_KEY is set: replay from the raw values, as the stages saw them.
  const privacy = new AuditPrivacy(workflows, config.piiKey, config.piiPreviousKeys);
  const source = runtime.replaySourceFrom(requestId, trail.map((r) => (r.payloadRemovedAt ? r : { ...r, envelope: privacy.raw(r.envelope) })));

  const providers = createModelProviders(parseModelsConfig(process.env), { logger });
  try {
    const byTier = chatModelChooser(providers);
    let selectModel = byTier;
    if (options.model) {
      const entry = providers.registry.find(options.model) ?? providers.available.find((m) => m.model === options.model);
      if (!entry || !entry.capabilities.includes('chat'))
        throw new InvalidArgumentError(`--model ${options.model} is no chat model of the registry; known: ${providers.registry.entries.filter((m) => m.capabilities.includes('chat')).map((m) => m.id).join(', ')}`);
      const choice = { modelId: entry.id, contextWindow: entry.contextWindow, pricePer1MInputUsd: entry.pricePer1MInputUsd, pricePer1MOutputUsd: entry.pricePer1MOutputUsd, trustedForPii: isTrustedForPii(entry) };
      selectModel = () => choice;
    }
    // One key seals and opens the prompt's placeholder mapping within this process.
    const protection = () => new pii.PiiProtection(pii.createPiiDetector(), config.piiKey ?? pii.processPiiKey());
    const generation = new ResponseGeneration(workflows, providers.chat, selectModel, undefined, MODEL_CALL_DEADLINE_MS, protection());
    const validation = new ResponseValidation(workflows, protection());
    const report = await runtime.replayRequest(
      source,
      {
        generate: (input) => generation.generate({ ...input }, 1, async () => undefined, logger),
        validate: async (generated, tenantId) => (await validation.onGenerated(generated, logger, tenantId)).map((o) => ({ type: o.definition.type, payload: o.payload })),
      },
      { workflowVersion: options.workflowVersion },
    );
    console.log(runtime.formatReplayReport(report));
  } finally {
    await providers.close();
  }
}

async function auditRetain(options) {
  const policy = options.policy ? audit.parseRetentionPolicy(readJsonOption('--policy', options.policy)) : audit.DEFAULT_RETENTION_POLICY;
  const store = await audit.PostgresAuditStore.open({ connectionString: databaseUrl(), schema: options.schema, maxConnections: 2 });
  try {
    const report = await store.removeExpiredPayloads(policy, { dryRun: options.dryRun, now: options.asOf });
    const verb = report.dryRun ? 'would remove' : 'removed';
    for (const [tenant, classes] of Object.entries(report.removed)) {
      for (const [eventClass, count] of Object.entries(classes)) if (count > 0) console.log(`tenant ${tenant}: ${verb} ${count} ${eventClass} payloads`);
    }
    for (const r of report.refused) console.log(`tenant ${r.tenantId}: kept record #${r.chainSeq ?? '?'} (event ${r.eventId}): ${r.reason}`);
    console.log(`${verb} ${report.total} payloads${report.dryRun ? ' (dry run: nothing written)' : ` in run ${report.runId} (recorded in audit_retention_runs)`}`);
    if (report.refused.length > 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

async function runEval(workflow, datasetPath, options) {
  // The harness lives with the embedded platform it starts (services/embedded/src/evaluation).
  const { evaluate } = require(join(root, 'services/embedded/dist/index.js'));
  const logger = createLogger({ service: 'eval', level: process.env.LOG_LEVEL ?? 'fatal' });
  const model = options.model;
  const run = async (bus) => {
    const bar = new cliProgress.SingleBar({ format: `eval ${workflow} [{bar}] {value}/{total} | {item} {outcome}`, hideCursor: true }, cliProgress.Presets.shades_classic);
    let started = false;
    const result = await evaluate({
      workflow,
      datasetPath,
      mode: options.kafka ? 'kafka' : 'embedded',
      model,
      env: process.env,
      logger,
      outDir: options.out,
      limit: options.limit,
      ids: options.ids,
      concurrency: options.concurrency ?? (model === 'scripted' ? 4 : 1),
      itemTimeoutMs: options.itemTimeout,
      scriptedPort: options.scriptedPort,
      bus,
      onItem: (r, done, total, v) => {
        // Not a terminal (a log file, CI): one line per item instead of a bar.
        if (!process.stderr.isTTY) return console.log(`eval ${done}/${total} ${r.item.id} ${r.outcome} ${r.latencyMs} ms${v.success ? ' success' : v.acceptedButWrong ? ' ACCEPTED BUT WRONG' : ' not a success'}${v.schemaValid === false ? ' schema-invalid' : ''}`);
        if (!started) bar.start(total, 0, { item: '', outcome: '' });
        started = true;
        bar.update(done, { item: r.item.id, outcome: r.outcome });
      },
    });
    if (started) bar.stop();
    return result;
  };
  const result = options.kafka ? await withBus((bus) => run(bus)) : await run(undefined);
  const pct = (v) => (v === null ? '   -  ' : `${(v * 100).toFixed(1).padStart(5)}%`);
  console.log(`model: ${result.report.model}; ${result.report.items.length} items in ${(result.report.durationMs / 1000).toFixed(1)} s${result.report.note ? `; ${result.report.note}` : ''}`);
  console.log('version                      items  success  schema  cit.prec  cit.rec  unsupp.  abstain  acc-wrong  escalated');
  for (const v of result.report.versions) {
    console.log(
      `${v.workflowVersion.padEnd(28)} ${String(v.items).padStart(5)}  ${pct(v.taskSuccess)}  ${pct(v.schemaValidity)}  ${pct(v.citationPrecision)}  ${pct(v.citationRecall)}  ${pct(v.unsupportedClaimRate)}  ${pct(v.abstentionCorrectness)}  ${pct(v.acceptedButWrongRate)}  ${pct(v.escalationRate)}`,
    );
    for (const [kind, f] of Object.entries(v.outcomes)) {
      console.log(`    ${kind.padEnd(10)} ${String(f.count).padStart(4)} items, latency mean ${f.latencyMs.mean} ms (p50 ${f.latencyMs.p50}, p95 ${f.latencyMs.p95}), cost ${f.costUsd.total.toFixed(6)} USD`);
    }
  }
  for (const i of result.report.items.filter((i) => !i.success)) console.log(`  ${i.acceptedButWrong ? 'ACCEPTED BUT WRONG' : 'not a success'} ${i.id} (${i.outcome}): ${[...i.failures, i.reason ?? ''].filter(Boolean).join('; ').slice(0, 300)}`);
  console.log(`report: ${result.jsonPath}\n        ${result.htmlPath}`);
}

const program = new Command('orchestrate').description('llmbus operator CLI (publishes to Kafka: KAFKA_BROKERS, LLMBUS_TOPIC_PREFIX)');
program
  .command('ingest')
  .description('submit a file or every .md/.html/.txt file under a directory for indexing')
  .argument('<path>', 'file or directory')
  .requiredOption('--collection <id>', 'logical collection, e.g. hr-policies', (v) => id(v, 'collection'))
  .requiredOption('--tenant <id>', 'tenant that owns the documents', (v) => id(v, 'tenant'))
  .option('--acl <groups>', 'comma-separated groups allowed to read (default: the whole tenant)', groups)
  .option('--doc-version <n>', 'document version; a higher one replaces what is indexed', positiveInt, 1)
  .action(ingest);
program
  .command('delete')
  .description("remove a document's chunks from the index")
  .argument('<documentId>', 'document id (as ingest derived it from the path)', (v) => id(v, 'documentId'))
  .requiredOption('--collection <id>', 'logical collection', (v) => id(v, 'collection'))
  .requiredOption('--tenant <id>', 'tenant that owns the document', (v) => id(v, 'tenant'))
  .action(remove);
program
  .command('replay')
  .description("republish a stage's dead-lettered messages to their original topics (after fixing the cause)")
  .requiredOption('--stage <stage>', `one of ${contracts.STAGES.join(', ')}`, (v) => {
    if (!contracts.STAGES.includes(v)) throw new InvalidArgumentError(`one of ${contracts.STAGES.join(', ')}`);
    return v;
  })
  .option('--reason <codes>', `comma-separated reason codes (${contracts.FAILURE_CODES.join(', ')})`, (v) => {
    const codes = groups(v);
    const unknown = codes.filter((c) => !contracts.FAILURE_CODES.includes(c));
    if (unknown.length) throw new InvalidArgumentError(`unknown reason code(s) ${unknown.join(', ')}`);
    return codes;
  })
  .option('--request <id>', 'only the records of this request or document', (v) => id(v, 'request id'))
  .action(replay);
const schemaOption = ['--schema <name>', "schema of the audit tables (default: the connection's search_path)"];
program
  .command('replay-request')
  .description('re-run generation and validation of a recorded request (recorded input and passages) and print recorded and new side by side; publishes nothing')
  .argument('<requestId>', 'the request id (correlation id)', (v) => id(v, 'request id'))
  .requiredOption('--tenant <id>', "tenant whose trail holds the request", (v) => id(v, 'tenant'))
  .option('--workflow-version <n>', "run this version of the request's workflow (and so its prompt) instead of the recorded one", positiveInt)
  .option('--model <id>', 'model registry id (or model name) to call instead of the one the tier selects')
  .option(...schemaOption)
  .action(replayRequest);
const auditCommand = program.command('audit').description("the auditor's trail in PostgreSQL (DATABASE_URL)");
auditCommand
  .command('verify')
  .description("recompute each tenant's hash chain; name the first broken record and exit 1 if any (or if --tenant names a tenant with no records)")
  .option('--tenant <id>', 'only this tenant (default: every tenant)')
  .option(...schemaOption)
  .action(auditVerify);
auditCommand
  .command('retain')
  .description('replace payloads older than the retention policy allows by tombstones keeping their digest')
  .option('--policy <file>', 'retention policy JSON (default: prompts, context and dead letters 90 days; outcomes and operations 7 years)')
  .option('--dry-run', 'count what would be removed, write nothing', false)
  .option('--as-of <time>', 'measure ages at this ISO 8601 time instead of now (with --dry-run: preview what will expire)', (v) => {
    const at = new Date(v);
    if (Number.isNaN(at.getTime())) throw new InvalidArgumentError('an ISO 8601 time, e.g. 2026-06-30T00:00:00Z');
    return at;
  })
  .option(...schemaOption)
  .action(auditRetain);
program
  .command('eval')
  .description('run a labelled dataset through the pipeline and report task success, citations, abstention, escalation, cost and latency per workflow version (JSON + HTML)')
  .argument('<workflow>', 'workflow id whose items run, or "all"')
  .argument('<dataset>', 'dataset JSONL (format: eval/workflows/README.md)')
  .option('--model <model>', 'scripted: the in-harness OpenAI-compatible server with answers scripted per item; configured: the model the environment configures (local GGUF by default)', (v) => {
    if (!['scripted', 'configured'].includes(v)) throw new InvalidArgumentError('scripted or configured');
    return v;
  }, 'scripted')
  .option('--kafka', 'run on the services already running on KAFKA_BROKERS (LLMBUS_TOPIC_PREFIX) instead of an embedded platform', false)
  .option('--scripted-port <port>', 'with --kafka and --model scripted: port of the scripted endpoint the generator service calls (its OPENAI_BASE_URL is http://127.0.0.1:<port>/v1)', port)
  .option('--limit <n>', 'run n items spread evenly over the dataset (keeps its mix)', positiveInt)
  .option('--ids <ids>', 'only these comma-separated item ids', groups)
  .option('--concurrency <n>', 'items in flight (default 4 scripted, 1 otherwise)', positiveInt)
  .option('--item-timeout <ms>', 'per item, submit to outcome (default 600000)', positiveInt)
  .option('--out <dir>', 'report folder', 'eval/reports')
  .action(runEval);
program.parseAsync(process.argv).catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /does not host this topic-partition|UNKNOWN_TOPIC/i.test(message)
    ? ` (the topic ${contracts.topicName(contracts.Topics.DocumentIngest, process.env.LLMBUS_TOPIC_PREFIX ?? '')} does not exist: the platform's topics are created by infra/kafka.sh up, docker compose or the test set-up; check LLMBUS_TOPIC_PREFIX)`
    : /relation "audit_(events|retention_runs)" does not exist/.test(message)
      ? ' (no audit tables there: the auditor creates them when it starts; check DATABASE_URL and --schema)'
      : /column "[a-z_]+" does not exist/.test(message)
        ? ' (the audit tables there are older than this version: start this version\'s auditor once on that database, it applies the pending migrations; this command only reads)'
        : '';
  console.error(`orchestrate: ${message}${hint}`);
  process.exit(1);
});
