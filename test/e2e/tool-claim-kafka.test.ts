// A generator killed between a side-effecting tool's execution and the record of its result, as
// five service processes on the test broker, PostgreSQL and Redis (the execution claims). The chat
// model is an OpenAI-compatible server started in this test with SCRIPTED tool calls (not a
// language model). The HTTP tool endpoint records each call and, on the first, never answers: the
// test kills the generator while the call is in flight, so the call took effect and the generator
// never saw its result. After the restart the redelivered round must not act again.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RequestCompletedEvent,
  RequestFailedEvent,
  ToolCallsCompletedEvent,
  Topics,
  type ToolCallsCompleted,
} from '@llmbus/contracts';
import { redisUrl } from '../support/env';
import { dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import type { TappedMessage } from '../support/topic-tap';

jest.setTimeout(600_000);

const TENANT = 'e2e-claims';
type Json = Record<string, unknown>;
interface WireMessage {
  role: string;
  content: string | null;
  tool_calls?: { function: { name: string } }[];
}

/**
 * The endpoint behind `apply_change` (/apply) and `keyed_change` (/keyed). Every call is recorded;
 * the first call of each path is held unanswered (the test kills the generator meanwhile). /keyed
 * honours the Idempotency-Key: a repeated key is answered without acting again.
 */
class ChangeEndpoint {
  readonly calls: { path: string; idempotencyKey: string }[] = [];
  /** Changes made, per path: one per distinct Idempotency-Key on /keyed, one per call on /apply. */
  readonly acted: { path: string; idempotencyKey: string }[] = [];
  private readonly held = new Set<ServerResponse>();
  private readonly waiters: { path: string; resolve: () => void }[] = [];
  private readonly server: Server = createServer((req, res) => this.handle(req, res));

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves when `path` has been called (now or later). */
  called(path: string): Promise<void> {
    if (this.calls.some((c) => c.path === path)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ path, resolve }));
  }

  count(path: string): number {
    return this.calls.filter((c) => c.path === path).length;
  }

  actedOn(path: string): number {
    return this.acted.filter((c) => c.path === path).length;
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      const idempotencyKey = String(req.headers['idempotency-key'] ?? '');
      const first = !this.calls.some((c) => c.path === path);
      this.calls.push({ path, idempotencyKey });
      const repeated = path === '/keyed' && this.acted.some((a) => a.idempotencyKey === idempotencyKey);
      if (!repeated) this.acted.push({ path, idempotencyKey });
      for (const waiter of this.waiters.filter((w) => w.path === path)) waiter.resolve();
      if (first) {
        this.held.add(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, replayed: repeated }));
    });
  }
}

/** Scripted model: first calls the tool the alert names (`[tool:<name>]`), then answers from the result. */
class ScriptedModel {
  readonly requests: WireMessage[][] = [];
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
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messages: WireMessage[] };
      const messages = body.messages;
      this.requests.push(messages);
      const prompt = messages.map((m) => m.content ?? '').join('\n');
      const tool = /\[tool:([a-z_]+)\]/.exec(prompt)?.[1] ?? 'apply_change';
      const results = messages.filter((m) => m.role === 'tool').map((m) => m.content ?? '');
      if (results.length === 0) {
        return reply(res, 'Applying the change.', [[tool, { change: 'raise pool size' }]]);
      }
      const unknown = results.some((r) => r.includes('outcome_unknown'));
      reply(
        res,
        JSON.stringify({
          summary: unknown ? 'The change may or may not have been applied: check it.' : 'Change applied.',
          actionTaken: !unknown,
        }),
        [],
      );
    });
  }
}

function reply(res: ServerResponse, content: string, calls: [string, Json][]): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: 'scripted-competent',
      choices: [
        {
          index: 0,
          finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
          message: {
            role: 'assistant',
            content,
            ...(calls.length > 0 && {
              tool_calls: calls.map(([name, args], i) => ({
                id: `call_${i}`,
                type: 'function',
                function: { name, arguments: JSON.stringify(args) },
              })),
            }),
          },
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
    }),
  );
}

const WORKFLOW = `
id: ops-change
version: 1
description: Apply one change with a tool.
match:
  - eventType: { equals: change.requested }
model:
  tier: small
  budget: { maxOutputTokens: 300, maxCostUsd: 1 }
input:
  schema:
    type: object
    additionalProperties: false
    required: [alert]
    properties:
      alert: { type: string, minLength: 1, maxLength: 2000 }
retrieval: { collections: [], topK: 0, query: '' }
prompt:
  id: ops-change
  version: 1
  system: |
    Apply the change with the tool, then answer with JSON: summary and actionTaken.
  user: |
    <request>
    {{input.alert}}
    </request>
output:
  schema:
    type: object
    additionalProperties: false
    required: [summary, actionTaken]
    properties:
      summary: { type: string, maxLength: 500 }
      actionTaken: { type: boolean }
validation:
  maxAttempts: 1
  stricterInstruction: Answer with the JSON object only.
  rules: []
  onExhaustion: fail
generate:
  tools: [apply_change, keyed_change]
  maxToolRounds: 2
`;

function toolsFile(port: number): string {
  const tool = (name: string, path: string, extra: string) => `
  - name: ${name}
    kind: http
    description: Apply one configuration change
    url: http://127.0.0.1:${port}${path}
    arguments: { type: object, additionalProperties: false, required: [change], properties: { change: { type: string } } }
    risk: write
    tenants: ['*']
    timeoutMs: 300000
    maxResultBytes: 1024${extra}`;
  return `httpHosts: ['127.0.0.1:${port}']
tools:${tool('apply_change', '/apply', '')}${tool('keyed_change', '/keyed', '\n    retryUncertain: true')}
`;
}

describe('tool call claims on Kafka and Redis: a generator killed while a write call is in flight', () => {
  const endpoint = new ChangeEndpoint();
  const model = new ScriptedModel();
  let pipeline: Pipeline;

  beforeAll(async () => {
    const port = await endpoint.start();
    const modelUrl = await model.start();
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-tool-claim-'));
    mkdirSync(join(dir, 'workflows'));
    mkdirSync(join(dir, 'tools'));
    writeFileSync(join(dir, 'workflows', 'ops-change.v1.yaml'), WORKFLOW);
    writeFileSync(join(dir, 'tools', 'changes.yaml'), toolsFile(port));
    pipeline = new Pipeline('e2e-tool-claim', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name, Topics.ToolCalls.name],
      env: {
        LLMBUS_DELIVERY: 'exactly-once',
        LLMBUS_WORKFLOWS_DIR: join(dir, 'workflows'),
        LLMBUS_TOOLS_DIR: join(dir, 'tools'),
        OPENAI_API_KEY: 'test-key',
        OPENAI_BASE_URL: modelUrl,
        OPENAI_CHAT_MODEL: 'scripted-competent',
        OPENAI_TRUSTED_FOR_PII: 'true',
        OPENAI_MAX_RETRIES: '0',
        REDIS_URL: redisUrl(),
      },
    });
    await pipeline.start();
  });

  afterEach(() => dumpOutputOnFailure(pipeline));

  afterAll(async () => {
    await pipeline?.stop();
    await model.stop();
    await endpoint.stop();
  });

  const of = (requestId: string, type: string) => (m: TappedMessage) =>
    m.key === requestId && m.headers['ce_type'] === type;

  async function submit(requestId: string, alert: string): Promise<void> {
    const response = await fetch(`${pipeline.routerUrl}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': pipeline.apiKey },
      body: JSON.stringify({ requestId, eventType: 'change.requested', input: { alert } }),
    });
    expect(response.status).toBe(202);
  }

  /** Waits for the request's outcome; it must complete. */
  async function completed(requestId: string): Promise<TappedMessage> {
    const done = await pipeline.tap.waitFor(
      (m) =>
        m.key === requestId &&
        [RequestCompletedEvent.type, RequestFailedEvent.type].includes(m.headers['ce_type'] ?? ''),
      300_000,
      `outcome of ${requestId}`,
    );
    expect(done.headers['ce_type']).toBe(RequestCompletedEvent.type);
    return done;
  }

  it('does not run the call again after the restart: it is recorded as outcome_unknown, the model is told, the trail shows it', async () => {
    const requestId = 'claim-unknown-1';
    const called = endpoint.called('/apply');
    await submit(requestId, '[tool:apply_change] raise the payments pool size');
    await called;
    // The change took effect; the generator dies before it sees the answer.
    await pipeline.kill('generator');
    await pipeline.restartService('generator');

    const done = await completed(requestId);
    expect(endpoint.count('/apply')).toBe(1);
    expect((done.json as { output: Json }).output).toMatchObject({ actionTaken: false });
    expect(
      model.requests.some((messages) =>
        messages.some((m) => m.role === 'tool' && (m.content ?? '').includes('outcome_unknown')),
      ),
    ).toBe(true);

    const rows = await pipeline.trail<{ type: string; payload: Json }>(
      TENANT,
      requestId,
      RequestCompletedEvent.type,
    );
    const rounds = rows.filter((r) => r.type === ToolCallsCompletedEvent.type);
    expect(rounds).toHaveLength(1);
    const result = (rounds[0].payload as unknown as ToolCallsCompleted).rounds[0].results[0];
    expect(result).toMatchObject({
      tool: 'apply_change',
      status: 'outcome_unknown',
      code: 'outcome_unknown',
    });
    // The tap saw one recorded round too (the killed attempt's output was never committed).
    expect(pipeline.tap.messages.filter(of(requestId, ToolCallsCompletedEvent.type))).toHaveLength(1);
  });

  it('re-sends a call of a retryUncertain tool with the same Idempotency-Key: the endpoint sees it twice and acts once', async () => {
    const requestId = 'claim-keyed-1';
    const called = endpoint.called('/keyed');
    await submit(requestId, '[tool:keyed_change] raise the checkout pool size');
    await called;
    await pipeline.kill('generator');
    await pipeline.restartService('generator');

    const done = await completed(requestId);
    expect((done.json as { output: Json }).output).toMatchObject({ actionTaken: true });
    const keyed = endpoint.calls.filter((c) => c.path === '/keyed');
    expect(keyed).toHaveLength(2);
    expect(keyed[0].idempotencyKey).toMatch(/^[0-9a-f]{64}$/);
    expect(keyed[1].idempotencyKey).toBe(keyed[0].idempotencyKey);
    expect(endpoint.actedOn('/keyed')).toBe(1);

    const rows = await pipeline.trail<{ type: string; payload: Json }>(
      TENANT,
      requestId,
      RequestCompletedEvent.type,
    );
    const round = rows.filter((r) => r.type === ToolCallsCompletedEvent.type);
    expect(round).toHaveLength(1);
    expect((round[0].payload as unknown as ToolCallsCompleted).rounds[0].results[0]).toMatchObject({
      tool: 'keyed_change',
      status: 'completed',
    });
  });
});
