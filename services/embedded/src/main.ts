// First, before any other module loads: V8's compiled code of every module loaded after this is
// kept on disk (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache), so that a restarted process
// skips compiling it: about a fifth of a stage's start-up CPU. Where the cache cannot be written it
// stays off. The statement order is deliberate: the imports below load after it.
import { enableCompileCache } from 'node:module';
enableCompileCache();
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore } from '@llmbus/audit';
import { outgoing } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import { DocumentIndexed, DocumentSubmittedEvent, RequestCompleted, RequestFailed } from '@llmbus/contracts';
import { createModelProviders, parseModelsConfig } from '@llmbus/models';
import { createLogger } from '@llmbus/observability';
import { PgliteVectorStore } from '@llmbus/retrieval';
import { AuditPrivacy } from '@llmbus/svc-auditor';
import { DEFAULT_WORKFLOWS_DIR, WorkflowRegistry } from '@llmbus/workflows';
import { busFromConfig, closeOnSignals, runMain } from '@llmbus/runtime';
import { FileToolCallClaims } from './file-tool-call-claims';
import { embeddedLogFormat } from './log-output';
import { OutcomeWatcher } from './outcome-watcher';
import {
  INTERRUPTED_LIMIT,
  RESUMABLE_TYPES,
  resumableRaw,
  resumeMaxAgeMs,
  takeUpInterruptedRequests,
} from './interrupted-requests';
import { lockDataDir } from './data-dir-lock';
import { embeddedPiiKey } from './pii-key-file';
import { trailKeyProblem } from './trail-key-check';
import { startPlatform } from './platform';
import { loadAllSampleDocuments, loadDocumentFolders } from './sample-documents';

const SAMPLES_DIR = join(__dirname, '..', '..', '..', 'samples');

/** Embedded mode: all five stages in one process on the in-process bus, embedded stores, local models. */
async function main(): Promise<void> {
  const env = process.env;
  const loaded = loadPlatformConfig(env, { mode: 'embedded', httpPort: 8080, clientId: 'llmbus' });
  const resumeMaxAge = resumeMaxAgeMs(env);
  // One process at a time on a data directory: a second one's stores would overwrite the first's
  // trail. A restart waits for the process before it to finish its shutdown grace period.
  const releaseDataDir = loaded.dataDir
    ? await lockDataDir(loaded.dataDir, {
        waitMs: loaded.shutdownGraceMs + 30_000,
        onWait: (message) => process.stderr.write(`${message}\n`),
      })
    : undefined;
  // A platform that keeps its data keeps its PII key with it, so earlier trails stay readable (and an
  // LLMBUS_PII_KEY other than the kept key stops start-up instead of leaving them unreadable).
  const config = loaded.dataDir
    ? { ...loaded, piiKey: embeddedPiiKey(loaded.dataDir, loaded.piiKey, loaded.piiPreviousKeys) }
    : loaded;
  const logger = createLogger({
    service: 'llmbus',
    level: config.logLevel,
    format: embeddedLogFormat(config, process.stdout),
  });
  // Without API_KEYS, a fresh admin key for tenant "demo" is made for this run and printed below.
  const demoKey = config.apiKeys ? undefined : `demo-${randomBytes(18).toString('base64url')}`;
  const apiKeys = config.apiKeys ?? ApiKeyRegistry.parse(`${demoKey}:demo:admin`);
  const bus = busFromConfig(config, logger);
  const models = createModelProviders(parseModelsConfig(env), { logger, traced: true });
  const vectorStore = await PgliteVectorStore.open({
    dataDir: config.dataDir && join(config.dataDir, 'vector-store'),
  });
  const auditStore = await PgliteAuditStore.open({ dataDir: config.dataDir });
  // A trail sealed under another key than this run's is told at start, not when a pii-reader asks.
  // Interrupted requests it cannot open are then left for a start with the right key, not failed.
  const keyProblem =
    config.dataDir && config.piiKey
      ? trailKeyProblem(await auditStore.sealedRecordSamples(), [
          config.piiKey,
          ...(config.piiPreviousKeys ?? []),
        ])
      : undefined;
  if (keyProblem) logger.warn({ dataDir: config.dataDir }, keyProblem);
  const watcher = new OutcomeWatcher(bus);
  await watcher.start();
  // Read before the ingress accepts anything: the requests an earlier run did not finish.
  const interrupted = config.dataDir
    ? await auditStore.unfinishedRequests(INTERRUPTED_LIMIT, RESUMABLE_TYPES)
    : [];
  const platform = await startPlatform({
    bus,
    config,
    env,
    logger,
    apiKeys,
    models,
    vectorStore,
    auditStore,
    routerPort: config.http.port,
    // Kept with the data, so a request resumed after a restart runs no side-effecting call twice.
    ...(config.dataDir && { toolCallClaims: new FileToolCallClaims(join(config.dataDir, 'tool-claims')) }),
    auditorPort: config.http.port === 0 ? 0 : config.http.port + 1,
  });
  closeOnSignals(
    'llmbus',
    logger,
    [
      () => platform.close(),
      () => watcher.close(),
      () => bus.close(),
      () => vectorStore.close(),
      () => auditStore.close(),
      () => models.close(),
      () => releaseDataDir?.() ?? Promise.resolve(),
    ],
    { graceMs: config.shutdownGraceMs, inFlight: [bus, models] },
  );
  if (interrupted.length > 0) {
    // The trail keeps payloads with their PII masked and sealed under the platform's key: resumed
    // events go out as they were published, as the auditor gives back a decided review.
    const privacy = new AuditPrivacy(
      WorkflowRegistry.fromDirectory(config.workflowsDir ?? DEFAULT_WORKFLOWS_DIR),
      config.piiKey,
      config.piiPreviousKeys,
    );
    const taken = await takeUpInterruptedRequests(
      bus,
      interrupted,
      {
        now: Date.now(),
        maxAgeMs: resumeMaxAge,
        raw: resumableRaw(privacy),
        trailKeyProblem: keyProblem !== undefined,
      },
      logger,
    );
    logger.info(taken, 'requests accepted by an earlier run and not finished: resumed or failed');
  }

  const samples = env['LLMBUS_SAMPLES'] !== 'off';
  // The operator's own documents (LLMBUS_DOCUMENTS), read before anything is published so that a
  // bad folder stops start-up at once, naming it.
  const own = loadDocumentFolders(env['LLMBUS_DOCUMENTS']);
  if (samples || own.length > 0) {
    // Product docs for the sample ticket, approved runbooks for the sample alerts.
    const sets = [...(samples ? loadAllSampleDocuments(SAMPLES_DIR) : []), ...own];
    for (const { tenant, documents } of sets) {
      await bus.publish(documents.map((d) => outgoing(DocumentSubmittedEvent, d, { tenantId: tenant })));
    }
    const documents = sets.flatMap((set) => set.documents);
    const indexed: DocumentIndexed[] = [];
    for (const { tenant, documents: ofSet } of sets)
      indexed.push(
        ...(await watcher.documentsIndexed(
          ofSet.map((d) => d.documentId),
          300_000,
          tenant,
        )),
      );
    logger.info(
      {
        documents: indexed.length,
        chunks: indexed.reduce((n, d) => n + d.chunkCount, 0),
        collections: [...new Set(documents.map((d) => d.collection))],
      },
      own.length > 0 ? 'documents indexed' : 'sample documents indexed',
    );
  }
  const key = demoKey ?? '<a key from API_KEYS>';
  process.stdout.write(
    [
      '',
      `llmbus is running (embedded mode, chat model ${models.chatModel.id}, embeddings ${models.embeddingModel.id})`,
      `  ingress  ${platform.routerUrl}   POST /v1/requests, GET /v1/requests/:id`,
      `  audit    ${platform.auditorUrl}   GET /v1/requests/:id/trail, /v1/reviews, /v1/costs`,
      `  console  ${platform.auditorUrl}/console   (log in with the API key below)`,
      `  OpenAPI  ${platform.routerUrl}/openapi.json, ${platform.auditorUrl}/openapi.json`,
      demoKey ? `  API key  ${demoKey}   (tenant "demo", role admin; set API_KEYS to use your own)` : '',
      '',
      `  curl -s -X POST ${platform.routerUrl}/v1/requests -H 'X-Api-Key: ${key}' -H 'Content-Type: application/json' \\`,
      `       -d @samples/tickets/password-reset.json`,
      `  curl -s -X POST ${platform.routerUrl}/v1/requests -H 'X-Api-Key: ${key}' -H 'Content-Type: application/json' \\`,
      `       -d @samples/alerts/payments-db-pool.json     # IT runbook; approve a restart via ${platform.auditorUrl}/v1/reviews`,
      '',
    ].join('\n') + '\n',
  );
  if (samples && demoKey) await submitSampleTicket(platform.routerUrl, demoKey, watcher);
}

/** Sends the sample ticket through the HTTP ingress and prints its outcome. */
async function submitSampleTicket(routerUrl: string, apiKey: string, watcher: OutcomeWatcher): Promise<void> {
  const body = readFileSync(join(SAMPLES_DIR, 'tickets', 'password-reset.json'), 'utf8');
  const response = await fetch(`${routerUrl}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body,
  });
  const accepted = (await response.json()) as { requestId?: string; message?: unknown };
  if (!response.ok || !accepted.requestId) {
    process.stdout.write(`sample ticket was refused (${response.status}): ${JSON.stringify(accepted)}\n`);
    return;
  }
  process.stdout.write(`sample ticket submitted as ${accepted.requestId}; waiting for its outcome...\n`);
  const outcome = await watcher.outcome(accepted.requestId, 600_000);
  const data = outcome.data as Partial<RequestCompleted & RequestFailed>;
  const summary = data.output ?? { code: data.code, message: data.message };
  process.stdout.write(`sample ticket ${outcome.type}:\n${JSON.stringify(summary, null, 2)}\n`);
}

runMain('llmbus', main);
