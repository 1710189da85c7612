// Model routing like a gateway, end to end: five service processes on Kafka and PostgreSQL (plus a
// second router replica) in registry mode, with the local GGUF small tier and an OpenAI-compatible
// large tier (a node:http server in this test that streams a scripted, competent answer: it is
// not a model) live in the same generator, Redis for tenant rate limits and the response cache.
// A request to the large-tier workflow is streamed over SSE from the replica that did not accept
// it, a repeat is served from the cache, a workflow pinning a model whose endpoint is down falls
// back to the next model of its entry, and a small-tier request runs on the local model.
import { randomBytes } from 'node:crypto';
import { writeFileSync, readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCompletedEvent, ResponseGeneratedEvent, Topics } from '@llmbus/contracts';
import { loadModelRegistry } from '@llmbus/models';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { redisUrl } from '../support/env';
import { dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { freePort, startService, stopService, type ServiceProcess } from '../support/service-processes';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(600_000);

const TENANT = 'e2e-gateway';

/** An OpenAI-compatible endpoint that streams a scripted support answer in pieces, 50 ms apart. */
class StreamingEndpoint {
  chatCalls = 0;
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      this.chatCalls += 1;
      const prompt = (body['messages'] as { content: string }[]).map((m) => m.content).join('\n');
      const citations = [...prompt.matchAll(/<passage id="([^"]+)"/g)].map((m) => m[1]).slice(0, 1);
      const content = JSON.stringify({
        category: 'account',
        priority: 'high',
        reply:
          'Check your spam folder, then request a new reset link from the sign-in page; links expire after 30 minutes.',
        citations,
        needsHuman: false,
        confidence: 0.9,
      });
      const base = { id: `chatcmpl-${randomBytes(4).toString('hex')}`, created: 0, model: body['model'] };
      if (body['stream'] !== true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 600, completion_tokens: 60, total_tokens: 660 },
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pieces = content.match(/.{1,24}/g) ?? [];
      const write = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      let i = 0;
      const next = () => {
        if (i < pieces.length) {
          write({
            ...base,
            object: 'chat.completion.chunk',
            choices: [{ index: 0, delta: { content: pieces[i++] } }],
          });
          setTimeout(next, 50);
          return;
        }
        write({
          ...base,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        });
        write({
          ...base,
          object: 'chat.completion.chunk',
          choices: [],
          usage: { prompt_tokens: 600, completion_tokens: 60, total_tokens: 660 },
        });
        res.end('data: [DONE]\n\n');
      };
      next();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The shipped workflows plus `support-ticket-large`: the support workflow on the large tier, streamed and cached. */
function gatewayWorkflows(): string {
  const dir = workflowsWithoutConfidence();
  const support = parseYaml(readFileSync(join(dir, 'support-ticket.v1.yaml'), 'utf8')) as Record<
    string,
    unknown
  > & {
    model: Record<string, unknown>;
    output: Record<string, unknown>;
  };
  const large = {
    ...support,
    id: 'support-ticket-large',
    match: [],
    model: { ...support.model, tier: 'large', cache: { ttlSeconds: 600 } },
    output: { ...support.output, stream: true },
  };
  writeFileSync(join(dir, 'support-ticket-large.v1.yaml'), stringifyYaml(large));
  const pinned = {
    ...support,
    id: 'support-ticket-fallback',
    match: [],
    model: { ...support.model, tier: 'large', id: 'e2e/down' },
  };
  writeFileSync(join(dir, 'support-ticket-fallback.v1.yaml'), stringifyYaml(pinned));
  expect(readdirSync(dir)).toEqual(
    expect.arrayContaining(['support-ticket-large.v1.yaml', 'support-ticket-fallback.v1.yaml']),
  );
  return dir;
}

interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

function parseEvents(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const line = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? '';
      return { event: line('event'), data: JSON.parse(line('data') || '{}') as Record<string, unknown> };
    });
}

describe('model gateway on Kafka: local small tier and OpenAI-compatible large tier at once', () => {
  const endpoint = new StreamingEndpoint();
  let pipeline: Pipeline;
  let secondRouter: ServiceProcess;
  let secondRouterUrl = '';
  const headers = () => ({ 'content-type': 'application/json', 'x-api-key': pipeline.apiKey });

  beforeAll(async () => {
    const url = await endpoint.start();
    // Nothing listens on this port: every call to e2e/down is refused (unavailable).
    const downUrl = `http://127.0.0.1:${await freePort()}/v1`;
    const registryPath = join(mkdtempSync(join(tmpdir(), 'llmbus-registry-')), 'models.registry.json');
    const registry = loadModelRegistry();
    writeFileSync(
      registryPath,
      JSON.stringify({
        models: [
          ...registry.entries,
          {
            id: 'e2e/large',
            provider: 'openai',
            model: 'e2e-large',
            baseURL: url,
            apiKeyEnv: 'E2E_LARGE_API_KEY',
            contextWindow: 128_000,
            pricePer1MInputUsd: 2.5,
            pricePer1MOutputUsd: 10,
            capabilities: ['chat', 'json'],
            tier: 'large',
          },
          {
            id: 'e2e/down',
            provider: 'openai',
            model: 'e2e-down',
            baseURL: downUrl,
            apiKeyEnv: 'E2E_LARGE_API_KEY',
            contextWindow: 128_000,
            pricePer1MInputUsd: 2.5,
            pricePer1MOutputUsd: 10,
            capabilities: ['chat', 'json'],
            tier: 'large',
            fallbacks: ['e2e/large'],
          },
        ],
      }),
    );
    pipeline = new Pipeline('e2e-gateway', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name],
      env: {
        LLMBUS_MODEL_PROVIDER: 'registry',
        LLMBUS_MODELS_REGISTRY: registryPath,
        E2E_LARGE_API_KEY: 'e2e-not-a-real-key',
        OPENAI_API_KEY: '',
        REDIS_URL: redisUrl(),
        LLMBUS_TENANT_RATE_LIMITS: `${TENANT}=600/`,
        LLMBUS_WORKFLOWS_DIR: gatewayWorkflows(),
      },
    });
    await pipeline.start();
    const port = await freePort();
    secondRouterUrl = `http://127.0.0.1:${port}`;
    secondRouter = await startService('router', {
      ...pipeline.launchEnv('router'),
      HTTP_PORT: String(port),
      KAFKA_CLIENT_ID: `${pipeline.prefix}router-2`,
    });
  });

  afterAll(async () => {
    if (secondRouter) await stopService(secondRouter);
    await pipeline?.stop();
    await endpoint.stop();
  });
  afterEach(() => dumpOutputOnFailure(pipeline));

  async function submit(workflow: string): Promise<string> {
    const res = await fetch(`${pipeline.routerUrl}/v1/requests`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({
        eventType: 'ticket.created',
        workflow,
        input: {
          subject: 'Password reset email never arrives',
          body: 'I clicked Forgot password twice but no email came.',
          priority: 'high',
        },
      }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { requestId: string }).requestId;
  }

  /** The stream of a request from the second router replica, once that replica's store knows the request. */
  async function streamFromSecondReplica(requestId: string): Promise<SseEvent[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`${secondRouterUrl}/v1/requests/${requestId}/stream`, { headers: headers() });
      if (res.status === 200) return parseEvents(await res.text());
      if (res.status !== 404 || Date.now() > deadline) throw new Error(`stream answered ${res.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The usage of the request's recorded generations, in attempt order. */
  async function generations(requestId: string): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const { rows } = await pipeline.db.query<{ payload: { usage: Record<string, unknown> } }>(
        `SELECT payload FROM audit_events WHERE tenant_id = $1 AND correlation_id = $2 AND type = $3 ORDER BY (payload->>'attempt')::int`,
        [TENANT, requestId, ResponseGeneratedEvent.type],
      );
      if (rows.length > 0) return rows.map((row) => row.payload.usage);
      if (Date.now() > deadline) throw new Error(`no generation recorded for ${requestId}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('streams a large-tier answer from any router replica, then serves the repeat from the cache', async () => {
    const requestId = await submit('support-ticket-large');
    const events = await streamFromSecondReplica(requestId);
    const drafts = events.filter((e) => e.event === 'draft');
    expect(drafts.length).toBeGreaterThanOrEqual(2);
    expect(drafts.at(-1)?.data).toMatchObject({ done: true });
    expect(String(drafts.at(-1)?.data['text'])).toContain('spam folder');
    expect(events.at(-1)).toMatchObject({ event: 'outcome', data: { requestId, status: 'completed' } });
    const [first] = await generations(requestId);
    expect(first).toMatchObject({ modelId: 'e2e/large', provider: 'openai', promptTokens: 600 });
    const callsAfterFirst = endpoint.chatCalls;

    const repeatId = await submit('support-ticket-large');
    const [repeat] = await generations(repeatId);
    expect(repeat).toMatchObject({ modelId: 'e2e/large', cached: true, costUsd: 0 });
    expect(repeat?.['costSavedUsd']).toBeCloseTo((600 * 2.5 + 60 * 10) / 1e6, 9);
    expect(endpoint.chatCalls).toBe(callsAfterFirst);
  });

  it('falls back from a pinned model whose endpoint refuses connections, and records the failed attempt', async () => {
    const callsBefore = endpoint.chatCalls;
    const requestId = await submit('support-ticket-fallback');
    const [first] = await generations(requestId);
    expect(first).toMatchObject({
      modelId: 'e2e/large',
      provider: 'openai',
      fallbackAttempts: [expect.objectContaining({ modelId: 'e2e/down', code: 'unavailable' }) as unknown],
    });
    expect(endpoint.chatCalls).toBeGreaterThan(callsBefore);
    // The request completes on the fallback's answer (trail() throws if the auditor never records it).
    await pipeline.trail(TENANT, requestId, RequestCompletedEvent.type, 300_000);
  });

  it('runs a small-tier request on the local model in the same generator', async () => {
    const requestId = await submit('support-ticket');
    const [first] = await generations(requestId);
    expect(first).toMatchObject({ modelId: 'local/gemma-3-270m', provider: 'local', costUsd: 0 });
  });
});
