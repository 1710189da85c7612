// Rate limits end to end: five service processes on Kafka and PostgreSQL in registry mode, the
// buckets in Redis, an OpenAI-compatible endpoint in this test (a node:http server answering a
// scripted support reply: it is not a model). A tenant allowed one request a minute sends three at
// once: the call over the limit waits at most LLMBUS_RATE_LIMIT_MAX_WAIT_MS, fails `rate_limited`,
// goes to the one delayed retry round due when a slot frees, and a request still refused there
// ends with RequestFailed `rate_limited` naming the limit, readable on the router's status API. A
// model allowed one request a minute answers the second request through its fallback.
// (Kept apart from gateway-kafka.test.ts: the one-minute refill makes this suite wait a minute.)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCompletedEvent, RequestFailedEvent, ResponseGeneratedEvent, Topics } from '@llmbus/contracts';
import { loadModelRegistry } from '@llmbus/models';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { redisUrl } from '../support/env';
import { dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { ScriptedOpenAIServer } from '../support/scripted-openai-server';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(600_000);

// Buckets live in the shared Redis for a minute: names of this run only, so a rerun starts full.
const RUN = randomBytes(3).toString('hex');
/** Allowed one request a minute (LLMBUS_TENANT_RATE_LIMITS). */
const LIMITED_TENANT = `e2e-rl-${RUN}`;
/** No tenant limit: it sends the requests of the model-limit case. */
const OTHER_TENANT = `e2e-rl-other-${RUN}`;
const LARGE = `e2e/large-${RUN}`;
/** `rpm: 1`, with LARGE's endpoint and `fallbacks: [SPARE]`. */
const LIMITED_MODEL = `e2e/limited-${RUN}`;
const SPARE = `e2e/spare-${RUN}`;

interface StatusBody {
  readonly status: string;
  readonly failure?: { code: string; message: string; stage: string };
}

/** The shipped workflows plus two support workflows pinned to this run's models. */
function rateLimitWorkflows(): string {
  const dir = workflowsWithoutConfidence();
  const support = parseYaml(readFileSync(join(dir, 'support-ticket.v1.yaml'), 'utf8')) as Record<
    string,
    unknown
  > & { model: Record<string, unknown> };
  const pinned = (id: string, model: string) => ({
    ...support,
    id,
    match: [],
    model: { ...support.model, tier: 'large', id: model },
  });
  writeFileSync(
    join(dir, 'support-ticket-pinned.v1.yaml'),
    stringifyYaml(pinned('support-ticket-pinned', LARGE)),
  );
  writeFileSync(
    join(dir, 'support-ticket-limited.v1.yaml'),
    stringifyYaml(pinned('support-ticket-limited', LIMITED_MODEL)),
  );
  return dir;
}

describe('rate limits on Kafka + Redis', () => {
  // A competent support reply citing the first passage it was given.
  const endpoint = new ScriptedOpenAIServer((messages) => {
    const prompt = messages.map((m) => m.content ?? '').join('\n');
    return {
      category: 'account',
      priority: 'high',
      reply: 'Check your spam folder, then request a new reset link; links expire after 30 minutes.',
      citations: [...prompt.matchAll(/<passage id="([^"]+)"/g)].map((m) => m[1]).slice(0, 1),
      needsHuman: false,
      confidence: 0.9,
    };
  });
  const otherKey = `e2e-other-${randomBytes(12).toString('hex')}`;
  let pipeline: Pipeline;

  beforeAll(async () => {
    const url = await endpoint.start();
    const registryPath = join(mkdtempSync(join(tmpdir(), 'llmbus-registry-')), 'models.registry.json');
    const hosted = (id: string, extra: Record<string, unknown> = {}) => ({
      id,
      provider: 'openai',
      model: id.replace('/', '-'),
      baseURL: url,
      apiKeyEnv: 'E2E_LARGE_API_KEY',
      contextWindow: 128_000,
      pricePer1MInputUsd: 2.5,
      pricePer1MOutputUsd: 10,
      capabilities: ['chat', 'json'],
      tier: 'large',
      ...extra,
    });
    writeFileSync(
      registryPath,
      JSON.stringify({
        models: [
          ...loadModelRegistry().entries,
          hosted(LARGE),
          hosted(SPARE),
          hosted(LIMITED_MODEL, { rpm: 1, fallbacks: [SPARE] }),
        ],
      }),
    );
    const env: Record<string, string> = {
      LLMBUS_MODEL_PROVIDER: 'registry',
      LLMBUS_MODELS_REGISTRY: registryPath,
      E2E_LARGE_API_KEY: 'e2e-not-a-real-key',
      OPENAI_API_KEY: '',
      REDIS_URL: redisUrl(),
      LLMBUS_TENANT_RATE_LIMITS: `${LIMITED_TENANT}=1/`,
      // A call over a limit waits at most 2 s (its own deadline is 120 s), then the bus retries it
      // once, in a round due when the next slot frees (the Retry-After), before failing it.
      LLMBUS_RATE_LIMIT_MAX_WAIT_MS: '2000',
      LLMBUS_RETRY_TOPIC_DELAYS_MS: '1000',
      LLMBUS_WORKFLOWS_DIR: rateLimitWorkflows(),
    };
    pipeline = new Pipeline('e2e-ratelimit', {
      tenant: LIMITED_TENANT,
      tapTopics: [Topics.Result.name],
      env,
    });
    // The harness's keys, plus an admin key of a tenant with no limit of its own.
    env['API_KEYS'] =
      `${pipeline.apiKey}:${LIMITED_TENANT}:admin,${pipeline.reviewerKey}:${LIMITED_TENANT}:reviewer+reader::e2e-reviewer,${otherKey}:${OTHER_TENANT}:admin`;
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await endpoint.stop();
  });
  afterEach(() => dumpOutputOnFailure(pipeline));

  async function submit(apiKey: string, workflow: string, n: number): Promise<string> {
    const res = await fetch(`${pipeline.routerUrl}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({
        eventType: 'ticket.created',
        workflow,
        input: {
          subject: `Password reset email never arrives (${n})`,
          body: 'I clicked Forgot password twice but no email came.',
          priority: 'high',
        },
      }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { requestId: string }).requestId;
  }

  /** The request's status from the router, once it is completed or failed. */
  async function finalStatus(requestId: string): Promise<StatusBody> {
    const deadline = Date.now() + 400_000;
    for (;;) {
      const res = await fetch(`${pipeline.routerUrl}/v1/requests/${requestId}`, {
        headers: { 'x-api-key': pipeline.apiKey },
      });
      if (res.status === 200) {
        const body = (await res.json()) as StatusBody;
        if (body.status === 'completed' || body.status === 'failed') return body;
      }
      if (Date.now() > deadline) throw new Error(`${requestId} did not end; last answer ${res.status}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('fails a request over its tenant limit with rate_limited naming the limit, after one retry round, and loses none', async () => {
    const callsBefore = endpoint.calls;
    const ids = await Promise.all([0, 1, 2].map((n) => submit(pipeline.apiKey, 'support-ticket-pinned', n)));
    const statuses = await Promise.all(ids.map((id) => finalStatus(id)));
    // Nothing is lost: every request ended (finalStatus waits for completed or failed).
    const completed = ids.filter((_, i) => statuses[i]?.status === 'completed');
    const failed = ids.filter((_, i) => statuses[i]?.status === 'failed');
    expect(completed.length + failed.length).toBe(3);
    // The first call took the minute's one slot; the two others were refused and retried once when
    // the slot refilled (Retry-After), where one of them took it: the other ends rate limited.
    expect(completed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const id of failed) {
      const failure = statuses[ids.indexOf(id)]?.failure;
      expect(failure).toMatchObject({ code: 'rate_limited', stage: 'generator' });
      expect(failure?.message).toContain(`tenant ${LIMITED_TENANT} requests per minute (1)`);
      // Retried once through the retry topic, not forever.
      expect(failure?.message).toContain('1 delayed retry round(s)');
      const trail = await pipeline.trail(LIMITED_TENANT, id, RequestFailedEvent.type);
      expect(trail.filter((e) => e.type === RequestFailedEvent.type)).toHaveLength(1);
      expect(trail.map((e) => e.type)).not.toContain(ResponseGeneratedEvent.type);
    }
    for (const id of completed) await pipeline.trail(LIMITED_TENANT, id, RequestCompletedEvent.type);
    // A refused call never reached the provider: one call per completed request.
    expect(endpoint.calls - callsBefore).toBe(completed.length);
  });

  it('answers through the fallback when the pinned model is at its requests-per-minute limit, recording the rate-limited attempt', async () => {
    const first = await submit(otherKey, 'support-ticket-limited', 10);
    await pipeline.trail(OTHER_TENANT, first, RequestCompletedEvent.type, 300_000);
    const second = await submit(otherKey, 'support-ticket-limited', 11);
    const trail = await pipeline.trail<{ type: string; payload: { usage: Record<string, unknown> } }>(
      OTHER_TENANT,
      second,
      RequestCompletedEvent.type,
      300_000,
    );
    const generated = trail.filter((e) => e.type === ResponseGeneratedEvent.type);
    expect(generated).toHaveLength(1);
    expect(generated[0]?.payload.usage).toMatchObject({
      modelId: SPARE,
      fallbackAttempts: [
        expect.objectContaining({
          modelId: LIMITED_MODEL,
          code: 'rate_limited',
          message: expect.stringContaining(`${LIMITED_MODEL} requests per minute (1)`) as unknown,
        }) as unknown,
      ],
    });
    // The first request was answered by the limited model, the second never called it.
    expect(endpoint.models.slice(-2)).toEqual([LIMITED_MODEL.replace('/', '-'), SPARE.replace('/', '-')]);
  });
});
