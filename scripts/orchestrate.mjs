#!/usr/bin/env node
// `orchestrate`: operator CLI on the Kafka bus (distributed mode). Uses the compiled libs; the npm
// script `npm run orchestrate -- <command>` builds them first.
//   orchestrate ingest <file|dir> --collection hr-policies --tenant acme [--acl hr,legal] [--doc-version 2]
//   orchestrate delete <documentId> --collection hr-policies --tenant acme
//   orchestrate replay --stage router [--reason processing_error,model_error] [--request <id>]
// Reads KAFKA_BROKERS and LLMBUS_TOPIC_PREFIX like the services do.
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
program.parseAsync(process.argv).catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /does not host this topic-partition|UNKNOWN_TOPIC/i.test(message)
    ? ` (the topic ${contracts.topicName(contracts.Topics.DocumentIngest, process.env.LLMBUS_TOPIC_PREFIX ?? '')} does not exist: the platform's topics are created by infra/kafka.sh up, docker compose or the test set-up; check LLMBUS_TOPIC_PREFIX)`
    : '';
  console.error(`orchestrate: ${message}${hint}`);
  process.exit(1);
});
