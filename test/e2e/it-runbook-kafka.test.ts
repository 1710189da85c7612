// Issue 8's IT runbook end to end: the shipped workflow (workflows/it-runbook.v1.yaml) and tool
// files (tools/*.yaml) on five service processes, the test broker and PostgreSQL, and a real
// Prometheus (infra/prometheus.sh) scraping the stages' own /metrics. The chat model is an
// OpenAI-compatible server in this test that plays a competent on-call engineer with SCRIPTED tool
// calls (each answer is chosen from the conversation so far). The diagnostics are real: log_search
// over samples/logs, metrics_query against the Prometheus, ticket_history against the audit store;
// restart_service is an HTTP tool whose endpoint here counts its calls. The approval goes through
// the auditor's HTTP review API, as a person's would.
import { execFile } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestCompletedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  ToolCallsCompletedEvent,
  ToolCallsRequestedEvent,
  Topics,
  type ToolCallsCompleted,
} from '@llmbus/contracts';
import { loadSampleDocuments } from '@llmbus/svc-embedded';
import { idempotencyKeyOf } from '@llmbus/tools';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import type { TappedMessage } from '../support/topic-tap';

jest.setTimeout(600_000);

const TENANT = 'demo';
const ROOT = join(__dirname, '..', '..');
const EMBEDDING_DIMENSION = 1536;
const run = promisify(execFile);

type Json = Record<string, unknown>;
interface WireMessage {
  role: string;
  content: string | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}

/** A port the OS just handed out and released, for a server another process starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The restart endpoint behind `restart_service` (RESTART_SERVICE_URL): counts every call. */
class RestartEndpoint {
  readonly calls: { idempotencyKey: string; body: Json }[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      this.calls.push({ idempotencyKey: String(req.headers['idempotency-key'] ?? ''), body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ restarted: body.service, rollout: 'complete' }));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/restart`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * An OpenAI-compatible endpoint playing a competent on-call engineer: round 1 runs the three
 * diagnostics, round 2 asks to restart payments citing the runbook step and the evidence, then it
 * answers with the workflow's JSON, citing the payments runbook passage it was given.
 */
class ScriptedOnCall {
  readonly requests: { messages: WireMessage[]; tools: string[] }[] = [];
  private readonly server: Server = createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      if ((req.url ?? '').endsWith('/embeddings')) {
        const input = body.input as string[];
        return reply(res, {
          object: 'list',
          model: body.model,
          data: input.map((_, index) => ({
            object: 'embedding',
            index,
            embedding: Array.from({ length: EMBEDDING_DIMENSION }, (_v, i) => (i === 0 ? 1 : 0)),
          })),
          usage: { prompt_tokens: 1, total_tokens: 1 },
        });
      }
      const messages = body.messages as WireMessage[];
      const tools = ((body.tools ?? []) as { function: { name: string } }[]).map((t) => t.function.name);
      this.requests.push({ messages, tools });
      reply(res, this.answer(messages));
    });
  }

  private answer(messages: WireMessage[]): Json {
    const prompt = messages.map((m) => m.content ?? '').join('\n');
    const called = messages.flatMap((m) => (m.tool_calls ?? []).map((c) => c.function.name));
    if (called.length === 0) {
      return completion('Diagnosing: payments error logs, scrape health, earlier tickets.', [
        ['log_search', { service: 'payments', level: 'error', query: 'pool exhausted' }],
        ['metrics_query', { query: 'up{job="llmbus"}' }],
        ['ticket_history', { query: 'PaymentsDbPoolExhausted' }],
      ]);
    }
    const runbook = /<passage id="([^"]+)" title="Runbook: payments database pool exhausted"/.exec(
      prompt,
    )?.[1];
    if (!called.includes('restart_service')) {
      return completion('Only payments-5d4b-2 logs pool exhaustion and payments was not restarted today.', [
        [
          'restart_service',
          {
            service: 'payments',
            reason: `Runbook ${runbook ?? 'payments-db-pool-exhaustion'} step 1: one instance (payments-5d4b-2) logs db pool exhausted; no restart in the last 24 h.`,
          },
        ],
      ]);
    }
    return completion(
      JSON.stringify({
        summary: 'PaymentsDbPoolExhausted: payments-5d4b-2 cannot get database connections since 09:27 UTC.',
        diagnosis:
          'payments-5d4b-2 logs "db pool exhausted" from 09:25; Prometheus scrapes answer; no earlier ticket.',
        remediation: [
          {
            step: 'Restart payments (approved), then watch the error logs for 5 minutes.',
            citation: runbook ?? '',
          },
        ],
        actionTaken: true,
        citations: runbook ? [runbook] : [],
        needsHuman: false,
        confidence: 0.8,
      }),
      [],
    );
  }
}

function completion(content: string, calls: [string, Json][]): Json {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: 'scripted-on-call',
    choices: [
      {
        index: 0,
        finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
        message: {
          role: 'assistant',
          content,
          ...(calls.length > 0 && {
            tool_calls: calls.map(([name, args], i) => ({
              id: `call_${i}_${Math.random().toString(36).slice(2)}`,
              type: 'function',
              function: { name, arguments: JSON.stringify(args) },
            })),
          }),
        },
      },
    ],
    usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
  };
}

/** Waits (with a deadline) until Prometheus has scraped `count` llmbus targets and found them up. */
async function allTargetsUp(baseUrl: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const response = await fetch(
      `${baseUrl}/api/v1/query?query=${encodeURIComponent('sum(up{job="llmbus"})')}`,
    );
    last = await response.text();
    const value = (JSON.parse(last) as { data?: { result?: { value: [number, string] }[] } }).data
      ?.result?.[0]?.value[1];
    if (Number(value) === count) return;
    if (Date.now() > deadline)
      throw new Error(`Prometheus did not find ${count} llmbus targets up in ${timeoutMs} ms: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function reply(res: ServerResponse, body: Json): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('IT runbook on Kafka: shipped workflow and tools, real Prometheus, approval over HTTP', () => {
  const restarts = new RestartEndpoint();
  const model = new ScriptedOnCall();
  const runDir = mkdtempSync(join(tmpdir(), 'llmbus-it-runbook-'));
  let pipeline: Pipeline;
  let prometheusEnv: NodeJS.ProcessEnv | undefined;
  let prometheusUrl = '';
  const headers = () => ({ 'content-type': 'application/json', 'x-api-key': pipeline.apiKey });

  beforeAll(async () => {
    const restartUrl = await restarts.start();
    const modelUrl = await model.start();
    const prometheusPort = await freePort();
    const metricsPorts = {
      retriever: await freePort(),
      generator: await freePort(),
      validator: await freePort(),
    };
    pipeline = new Pipeline('e2e-it-runbook', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name, Topics.Review.name, Topics.ToolCalls.name, Topics.DocumentIndexed.name],
      env: {
        RESTART_SERVICE_URL: restartUrl,
        PROMETHEUS_URL: `http://127.0.0.1:${prometheusPort}`,
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: modelUrl,
        OPENAI_CHAT_MODEL: 'scripted-on-call',
        OPENAI_TRUSTED_FOR_PII: 'true',
        OPENAI_MAX_RETRIES: '0',
      },
      serviceEnv: Object.fromEntries(
        Object.entries(metricsPorts).map(([name, port]) => [name, { METRICS_PORT: String(port) }]),
      ),
    });
    await pipeline.start();

    // Prometheus scrapes the five stages with the pipeline's key (admin includes reader).
    const http = (url: string) => new URL(url).host;
    prometheusEnv = {
      ...process.env,
      LLMBUS_RUN_DIR: runDir,
      PROMETHEUS_PORT: String(prometheusPort),
      PROMETHEUS_SCRAPE_INTERVAL: '1s',
      PROMETHEUS_SCRAPE_KEY: pipeline.apiKey,
      PROMETHEUS_TARGETS: [
        http(pipeline.routerUrl),
        http(pipeline.auditorUrl),
        ...Object.values(metricsPorts).map((port) => `127.0.0.1:${port}`),
      ].join(','),
    };
    const { stdout } = await run('bash', [join(ROOT, 'infra', 'prometheus.sh'), 'up'], {
      env: prometheusEnv,
    });
    prometheusUrl = stdout.trim();
    await allTargetsUp(prometheusUrl, 5, 120_000);

    // The tenant's approved runbooks, submitted by an upstream document system over Kafka.
    const { tenant, documents } = loadSampleDocuments(join(ROOT, 'samples', 'documents', 'runbooks'));
    expect(tenant).toBe(TENANT);
    for (const doc of documents) {
      await pipeline.send(
        Topics.DocumentIngest.name,
        doc.documentId,
        ceHeaders(DocumentSubmittedEvent.type, doc.documentId, TENANT),
        JSON.stringify(doc),
      );
    }
    for (const doc of documents) {
      await pipeline.tap.waitFor(
        (m) => m.headers['ce_type'] === DocumentIndexedEvent.type && m.key === doc.documentId,
        180_000,
        `DocumentIndexed for ${doc.documentId}`,
      );
    }
  });

  afterEach(() => dumpOutputOnFailure(pipeline));

  afterAll(async () => {
    await pipeline?.stop();
    if (prometheusEnv)
      await run('bash', [join(ROOT, 'infra', 'prometheus.sh'), 'down'], { env: prometheusEnv });
    rmSync(runDir, { recursive: true, force: true });
    await model.stop();
    await restarts.stop();
  });

  const of = (requestId: string, type: string) => (m: TappedMessage) =>
    m.key === requestId && m.headers['ce_type'] === type;

  async function pendingApproval(requestId: string, timeoutMs: number): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(`${pipeline.auditorUrl}/v1/reviews`, { headers: headers() });
      expect(response.status).toBe(200);
      const { reviews } = (await response.json()) as { reviews: Json[] };
      const found = reviews.find((r) => r.requestId === requestId && r.kind === 'tool-approval');
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no tool approval for ${requestId} listed in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The request's trail from the auditor's HTTP API (event-time order), once it holds an event of `type`. */
  async function trailUntil(
    requestId: string,
    type: string,
    timeoutMs: number,
  ): Promise<{ type: string; payload: Json }[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(`${pipeline.auditorUrl}/v1/requests/${requestId}/trail`, {
        headers: headers(),
      });
      expect(response.status).toBe(200);
      const { events } = (await response.json()) as { events: { envelope: { type: string; data: Json } }[] };
      const rows = events.map((e) => ({ type: e.envelope.type, payload: e.envelope.data }));
      if (rows.some((r) => r.type === type)) return rows;
      if (Date.now() > deadline)
        throw new Error(`the trail of ${requestId} has no ${type} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('diagnoses the sample payments alert with logs, metrics and tickets, waits for approval, restarts once and completes with a cited runbook', async () => {
    const requestId = 'it-runbook-payments-1';
    const body = JSON.parse(
      readFileSync(join(ROOT, 'samples', 'alerts', 'payments-db-pool.json'), 'utf8'),
    ) as Json;
    const submitted = await fetch(`${pipeline.routerUrl}/v1/requests`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ ...body, requestId }),
    });
    expect(submitted.status).toBe(202);

    // Round 1: the three diagnostics ran, and their results are on the bus before the model saw them.
    const first = await pipeline.tap.waitFor(of(requestId, ToolCallsCompletedEvent.type), 240_000, 'round 1');
    const round1 = (first.json as unknown as ToolCallsCompleted).rounds[0];
    expect(round1.results.map((r) => [r.tool, r.status])).toEqual([
      ['log_search', 'completed'],
      ['metrics_query', 'completed'],
      ['ticket_history', 'completed'],
    ]);
    expect(model.requests[0]?.tools.sort()).toEqual([
      'log_search',
      'metrics_query',
      'restart_service',
      'ticket_history',
    ]);

    // The high action waits for a person, with its exact arguments and the model's reason.
    const pending = await pendingApproval(requestId, 120_000);
    expect(pending.toolApproval).toMatchObject({
      tool: 'restart_service',
      arguments: { service: 'payments' },
    });
    expect(restarts.calls).toHaveLength(0);

    // Approved by another principal than the one that submitted the alert.
    const decision = await fetch(`${pipeline.auditorUrl}/v1/reviews/${requestId}/decision`, {
      method: 'POST',
      headers: { ...headers(), 'x-api-key': pipeline.reviewerKey },
      body: JSON.stringify({
        decision: 'approve',
        // The hash of the call the list showed: an approval authorises that exact call only.
        callHash: (pending.toolApproval as Json).callHash,
        comment: 'on-call approves the payments restart',
      }),
    });
    expect(decision.status).toBe(202);

    const done = await pipeline.tap.waitFor(of(requestId, RequestCompletedEvent.type), 240_000, 'completion');
    const completed = done.json as { output: Json; citations: string[] };
    expect(completed.output).toMatchObject({ actionTaken: true, needsHuman: false });

    // The remediation cites the payments runbook passage that retrieval gave the model.
    const runbookPassage = completed.citations[0] ?? '';
    expect(completed.citations).toHaveLength(1);
    const firstPrompt = (model.requests[0]?.messages ?? []).map((m) => m.content ?? '').join('\n');
    expect(firstPrompt).toContain(
      `<passage id="${runbookPassage}" title="Runbook: payments database pool exhausted"`,
    );
    expect(completed.output.remediation).toEqual([expect.objectContaining({ citation: runbookPassage })]);

    // The action ran exactly once, with the approved arguments and the call's idempotency key.
    expect(restarts.calls).toHaveLength(1);
    expect(restarts.calls[0]?.body).toEqual(pending.toolApproval && (pending.toolApproval as Json).arguments);

    // What the diagnostics returned came from the real parts.
    const resultOf = (tool: string) => round1.results.find((r) => r.tool === tool)?.content ?? '';
    expect(resultOf('log_search')).toContain('db pool exhausted');
    expect(resultOf('metrics_query')).toContain('"resultType":"vector"');
    expect(resultOf('metrics_query')).toContain('"seriesTotal":5');
    expect(resultOf('ticket_history')).toContain('"tickets"');

    // The trail holds the whole chain in order: each round's calls, arguments and results, the
    // approval request, the decision with who approved, the restart's result, the outcome.
    const rows = await trailUntil(requestId, RequestCompletedEvent.type, 60_000);
    const chainRows = rows.filter(
      (r) =>
        r.type.includes('tool-calls') || r.type.includes('review') || r.type === RequestCompletedEvent.type,
    );
    expect(chainRows.map((r) => r.type)).toEqual([
      ToolCallsRequestedEvent.type,
      ToolCallsCompletedEvent.type,
      ToolCallsRequestedEvent.type,
      ReviewRequestedEvent.type,
      ReviewDecidedEvent.type,
      ToolCallsCompletedEvent.type,
      RequestCompletedEvent.type,
    ]);
    const [requested1, completed1, requested2, review, decided, completed2] = chainRows.map((r) => r.payload);
    const callsOf = (payload: Json | undefined) =>
      ((payload as unknown as ToolCallsCompleted).rounds.at(-1)?.calls ?? []).map((c) => [
        c.tool,
        c.arguments,
      ]);
    expect(callsOf(requested1)).toEqual([
      ['log_search', { service: 'payments', level: 'error', query: 'pool exhausted' }],
      ['metrics_query', { query: 'up{job="llmbus"}' }],
      ['ticket_history', { query: 'PaymentsDbPoolExhausted' }],
    ]);
    expect((completed1 as unknown as ToolCallsCompleted).rounds[0]?.results.map((r) => r.status)).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    expect(callsOf(requested2)).toEqual([['restart_service', (pending.toolApproval as Json).arguments]]);
    expect(review).toMatchObject({ kind: 'tool-approval', toolApproval: { tool: 'restart_service' } });
    expect(decided).toMatchObject({ decision: 'approve', reviewer: expect.any(String) });
    const restart = (completed2 as unknown as ToolCallsCompleted).rounds[1]?.results[0];
    expect(restart).toMatchObject({
      tool: 'restart_service',
      status: 'completed',
      reviewer: (decided as Json).reviewer,
      callHash: (pending.toolApproval as Json).callHash,
    });
    expect(restart?.content).toContain('"rollout":"complete"');
    expect(restarts.calls[0]?.idempotencyKey).toBe(idempotencyKeyOf({ id: restart?.callId ?? '' }));
  });
});
