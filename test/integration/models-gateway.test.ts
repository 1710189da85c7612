// Model routing like a gateway, on real parts: registry mode with the local GGUF chat model and an
// OpenAI-compatible endpoint (a node:http server in this test, answering a fixed completion) live
// in the same process, fallbacks across them, and rate limits shared by two "replicas" through a
// real Redis (REDIS_URL, started by infra/up.sh).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import {
  RedisResponseCache,
  responseCacheKey,
  createModelProviders,
  loadModelRegistry,
  parseModelsConfig,
  type ModelEntry,
  type ModelProviders,
  type ModelRegistry,
} from '@llmbus/models';
import { redisUrl } from '../support/env';

// Real CPU inference on shared cores for the local tier: a hang guard, not a speed target.
jest.setTimeout(300_000);

/** An OpenAI-compatible endpoint answering every chat call with `reply`, or with `status` when set. */
class FixedAnswerServer {
  calls = 0;
  status = 200;
  private readonly server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      this.calls += 1;
      if (this.status !== 200) {
        res.writeHead(this.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${this.calls}`,
          object: 'chat.completion',
          created: 0,
          model: 'large-model',
          choices: [
            {
              index: 0,
              finish_reason: 'stop',
              message: { role: 'assistant', content: 'from the large tier' },
            },
          ],
          usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
        }),
      );
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

const ask = (model?: string, tenant?: string) => ({
  ...(model === undefined ? {} : { model }),
  ...(tenant === undefined ? {} : { tenant }),
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
  maxTokens: 8,
  timeoutMs: 240_000,
});

describe('models as a gateway (registry mode)', () => {
  const server = new FixedAnswerServer();
  let registry: ModelRegistry;
  let large: ModelEntry;
  const opened: ModelProviders[] = [];

  beforeAll(async () => {
    const baseURL = await server.start();
    large = {
      id: 'test/large',
      provider: 'openai',
      model: 'large-model',
      baseURL,
      apiKeyEnv: 'LLMBUS_TEST_LARGE_KEY',
      contextWindow: 128_000,
      pricePer1MInputUsd: 2.5,
      pricePer1MOutputUsd: 10,
      capabilities: ['chat', 'json'],
      tier: 'large',
      fallbacks: ['local/gemma-3-270m'],
    };
    registry = loadModelRegistry().with([large]);
  });

  afterEach(() => {
    server.status = 200;
  });

  afterAll(async () => {
    await Promise.all(opened.map((models) => models.close()));
    await server.stop();
  });

  function open(extraEnv: Record<string, string> = {}): ModelProviders {
    const models = createModelProviders(
      parseModelsConfig({
        ...process.env,
        OPENAI_API_KEY: '',
        LLMBUS_MODEL_PROVIDER: 'registry',
        LLMBUS_TEST_LARGE_KEY: 'test-key',
        ...extraEnv,
      }),
      { registry },
    );
    opened.push(models);
    return models;
  }

  it('calls the local small tier and the OpenAI-compatible large tier from one process', async () => {
    const models = open();
    const small = models.select('small', ['chat', 'json']);
    const big = models.select('large', ['chat', 'json']);
    expect(small.model.id).toBe('local/gemma-3-270m');
    expect(big.model.id).toBe('test/large');

    const fromLarge = await models.chat.chat(ask(big.model.id));
    expect(fromLarge.text).toBe('from the large tier');
    expect(fromLarge.usage).toMatchObject({ modelId: 'test/large', provider: 'openai', promptTokens: 12 });
    expect(fromLarge.usage.costUsd).toBeCloseTo((12 * 2.5 + 4 * 10) / 1e6, 12);

    const fromSmall = await models.chat.chat(ask(small.model.id));
    expect(fromSmall.usage).toMatchObject({ modelId: 'local/gemma-3-270m', provider: 'local', costUsd: 0 });
    expect(server.calls).toBe(1);
  });

  it('falls back from the hosted large tier to the local model when the endpoint is unavailable', async () => {
    const models = open({ OPENAI_MAX_RETRIES: '0' });
    server.status = 503;
    const before = server.calls;
    const reply = await models.chat.chat(ask('test/large'));
    expect(server.calls).toBe(before + 1);
    expect(reply.usage.modelId).toBe('local/gemma-3-270m');
  });

  it('shares a tenant rate limit between two replicas through Redis', async () => {
    const tenant = `t-${randomBytes(4).toString('hex')}`;
    const env = {
      REDIS_URL: redisUrl(),
      LLMBUS_TENANT_RATE_LIMITS: `${tenant}=3/`,
      LLMBUS_RATE_LIMIT_MAX_WAIT_MS: '0',
    };
    const replicaA = open(env);
    const replicaB = open(env);
    const before = server.calls;
    await replicaA.chat.chat(ask('test/large', tenant));
    await replicaB.chat.chat(ask('test/large', tenant));
    await replicaA.chat.chat(ask('test/large', tenant));
    await expect(
      replicaB.chat.chat({ ...ask('test/large', tenant), timeoutMs: 1_000 }),
    ).rejects.toMatchObject({
      code: 'rate_limited',
      message: expect.stringContaining(`tenant ${tenant} requests per minute (3)`) as unknown,
    });
    // Another tenant is not charged for this one's calls.
    await replicaB.chat.chat(ask('test/large', `${tenant}-other`));
    expect(server.calls).toBe(before + 4);
  });

  it('shares cached answers between replicas through Redis, never across tenants or workflow versions', async () => {
    const replicaA = new RedisResponseCache(new Redis(redisUrl()));
    const replicaB = new RedisResponseCache(new Redis(redisUrl()));
    const run = randomBytes(4).toString('hex');
    const request = ask('test/large');
    const scope = { tenant: `acme-${run}`, workflowId: 'support-ticket', workflowVersion: 1 };
    const answer = await open().chat.chat(request);
    await replicaA.set(responseCacheKey(scope, 'test/large', request), answer, 60_000);

    expect(await replicaB.get(responseCacheKey(scope, 'test/large', request))).toEqual(answer);
    const misses = [
      responseCacheKey({ ...scope, tenant: `globex-${run}` }, 'test/large', request),
      responseCacheKey({ ...scope, workflowVersion: 2 }, 'test/large', request),
      responseCacheKey(scope, 'local/gemma-3-270m', request),
      responseCacheKey(scope, 'test/large', {
        ...request,
        messages: [{ role: 'user', content: 'Say hello!' }],
      }),
    ];
    for (const key of misses) expect(await replicaB.get(key)).toBeUndefined();
    await Promise.all([replicaA.close(), replicaB.close()]);
  });
});
