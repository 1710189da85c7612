import { randomUUID } from 'node:crypto';
import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport, outgoing, type Outgoing } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  ModelCallRecordedEvent,
  RequestCompletedEvent,
  RequestContext,
  RequestFailedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewRequestedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import pino from 'pino';
import { register } from 'prom-client';
import request from 'supertest';
import { startAuditor } from './index';

const READER = 'reader-key-acme-0001';
const GLOBEX = 'reader-key-globex-001';
const context: RequestContext = {
  workflow: { id: 'support-ticket', version: 2 },
  requester: { groups: [] },
  modelTier: 'small',
  budget: { maxOutputTokens: 100, maxCostUsd: 1 },
};
const usage = (promptTokens: number, costUsd: number, latencyMs: number) => ({
  modelId: 'gpt-4o-mini',
  provider: 'openai',
  promptTokens,
  completionTokens: 10,
  costUsd,
  latencyMs,
});

describe('auditor: cost and usage accounting', () => {
  let store: PgliteAuditStore;
  let bus: EventBus;
  let app: StageApp;
  let url: string;
  /** The trail reads of a request's cost the auditor made while recording (none in embedded mode). */
  let costReadsWhileRecording: number;

  /**
   * Publishes a request's events in order, each caused by the previous one and recorded before the
   * next is published (as the stages do: an outcome comes after the calls it follows).
   */
  async function run(requestId: string, tenantId: string, steps: ((id: string) => Outgoing)[]) {
    const publishRecorded = async (event: Outgoing, cause?: EventEnvelope) => {
      let stop = () => {};
      const recorded = new Promise<void>((resolve) => {
        stop = store.onRecorded((tenant, id, type) => {
          if (tenant === tenantId && id === requestId && type === event.definition.type) resolve();
        });
      });
      const [published] = await bus.publish(
        [event],
        cause === undefined ? undefined : { envelope: cause, stage: 'generator' },
      );
      await recorded;
      stop();
      // The auditor's own bookkeeping after the store's (the same turn of the event loop).
      await new Promise((resolve) => setImmediate(resolve));
      return published;
    };
    let cause = await publishRecorded(
      outgoing(
        RequestSubmittedEvent,
        { requestId, eventType: 'ticket.created', input: { subject: 's' }, requester: { groups: [] } },
        { tenantId },
      ),
    );
    for (const step of steps) cause = await publishRecorded(step(requestId), cause);
  }

  const call =
    (promptTokens: number, costUsd: number, latencyMs: number, attempt = 1) =>
    (requestId: string) => {
      const callId = randomUUID();
      return outgoing(
        ModelCallRecordedEvent,
        {
          requestId,
          callId,
          stage: 'generator',
          attempt,
          usage: usage(promptTokens, costUsd, latencyMs),
          workflow: context.workflow,
        },
        { id: callId },
      );
    };
  // Restates the call's usage (callId set): never counted twice.
  const generated = (requestId: string) =>
    outgoing(ResponseGeneratedEvent, {
      requestId,
      context,
      input: {},
      passages: [],
      attempt: 1,
      prompt: { id: 'reply', version: 1 },
      renderedPrompt: 'p',
      text: 't',
      usage: usage(100, 0.01, 500),
      callId: randomUUID(),
    });
  const completed = (acceptedBy: 'validator' | 'reviewer') => (requestId: string) =>
    outgoing(RequestCompletedEvent, {
      requestId,
      workflow: context.workflow,
      output: { reply: 'r' },
      citations: [],
      attempts: 1,
      acceptedBy,
      usage: usage(100, 0.01, 500),
    });
  const review = (requestId: string) =>
    outgoing(ReviewRequestedEvent, {
      requestId,
      context,
      input: {},
      passages: [],
      reason: 'low confidence',
      violations: [],
      text: 't',
      attempts: 1,
      usage: usage(100, 0.01, 500),
    });
  const failed = (requestId: string) =>
    outgoing(RequestFailedEvent, {
      requestId,
      code: 'validation_failed',
      message: 'no valid output',
      stage: 'validator',
      details: [],
    });

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
    bus = new EventBus(new InMemoryTransport(), { logger: pino({ level: 'silent' }), retryDelayMs: 1 });
    const config = loadPlatformConfig(
      { API_KEYS: `${READER}:acme:reader,${GLOBEX}:globex:reader`, HTTP_PORT: '0' },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    const readCost = store.requestCost.bind(store);
    const costReads = jest.spyOn(store, 'requestCost');
    app = await startAuditor({ bus, config, logger: pino({ level: 'silent' }), store });
    url = app.url!;
    await run('u-done', 'acme', [call(100, 0.01, 500), generated, completed('validator')]);
    await run('u-reviewed', 'acme', [
      call(200, 0.02, 1500),
      call(300, 0.03, 2500, 2),
      review,
      completed('reviewer'),
    ]);
    await run('u-failed', 'acme', [call(50, 0.005, 250), failed]);
    await run('g-1', 'globex', [call(1000, 1, 100), completed('validator')]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ends = await Promise.all(
        [
          ['acme', 'u-done'],
          ['acme', 'u-reviewed'],
          ['acme', 'u-failed'],
          ['globex', 'g-1'],
        ].map(async ([tenant, id]) => (await readCost(tenant, id))?.outcome),
      );
      if (ends.every((outcome) => outcome !== undefined && outcome !== 'in_progress')) break;
      if (Date.now() > deadline) throw new Error(`requests not recorded in time: ${ends.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    costReadsWhileRecording = costReads.mock.calls.length;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
  });

  it('counts an ended request without reading its cost from the trail, where it recorded all its events', () => {
    expect(costReadsWhileRecording).toBe(0);
  });

  it("serves a request's cost by step and model, with its workflow and outcome, counting each call once", async () => {
    const res = await request(url).get('/v1/requests/u-reviewed/cost').set('X-Api-Key', READER).expect(200);
    expect(res.body).toMatchObject({
      requestId: 'u-reviewed',
      workflow: { id: 'support-ticket', version: 2 },
      outcome: 'reviewed',
      totals: { calls: 2, promptTokens: 500, completionTokens: 20, latencyMs: 4000, maxLatencyMs: 2500 },
      steps: [{ stage: 'generator', modelId: 'gpt-4o-mini', calls: 2, promptTokens: 500 }],
    });
    expect(res.body.totals.costUsd).toBeCloseTo(0.05, 10);
    expect(res.body.durationMs).toBeGreaterThanOrEqual(0);
    const done = await request(url).get('/v1/requests/u-done/cost').set('X-Api-Key', READER).expect(200);
    expect(done.body).toMatchObject({ outcome: 'completed', totals: { calls: 1, promptTokens: 100 } });
  });

  it("answers 404 for another tenant's request", async () => {
    await request(url).get('/v1/requests/g-1/cost').set('X-Api-Key', READER).expect(404);
    await request(url).get('/v1/requests/u-done/cost').set('X-Api-Key', GLOBEX).expect(404);
  });

  it("aggregates the tenant's usage by workflow version, stage, model and outcome over a window", async () => {
    const res = await request(url).get('/v1/usage').set('X-Api-Key', READER).expect(200);
    const byOutcome = Object.fromEntries(
      (res.body.rows as { outcome: string }[]).map((row) => [row.outcome, row]),
    );
    expect(Object.keys(byOutcome).sort()).toEqual(['completed', 'failed', 'reviewed']);
    const common = {
      workflowId: 'support-ticket',
      workflowVersion: 2,
      stage: 'generator',
      modelId: 'gpt-4o-mini',
    };
    expect(byOutcome['reviewed']).toMatchObject({ ...common, requests: 1, calls: 2, promptTokens: 500 });
    expect(byOutcome['completed']).toMatchObject({ ...common, requests: 1, calls: 1, promptTokens: 100 });
    expect(byOutcome['failed']).toMatchObject({ ...common, requests: 1, calls: 1, promptTokens: 50 });

    const hourly = await request(url).get('/v1/usage?interval=hour').set('X-Api-Key', READER).expect(200);
    expect(hourly.body.rows[0].bucketStart).toMatch(/T\d\d:00:00\.000Z$/);
    const future = await request(url)
      .get('/v1/usage?from=2999-01-01T00:00:00Z')
      .set('X-Api-Key', READER)
      .expect(200);
    expect(future.body).toEqual({ from: '2999-01-01T00:00:00.000Z', rows: [] });
    await request(url).get('/v1/usage?from=yesterday').set('X-Api-Key', READER).expect(400);
    await request(url).get('/v1/usage?interval=week').set('X-Api-Key', READER).expect(400);
    await request(url)
      .get('/v1/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z')
      .set('X-Api-Key', READER)
      .expect(400);
  });

  it('exports cost, tokens, calls and outcomes by tenant and workflow version on /metrics', async () => {
    const text = await register.metrics();
    const labels = 'tenant="acme",workflow="support-ticket@2",stage="generator",model="gpt-4o-mini"';
    expect(text).toContain(`orchestrator_model_calls_total{${labels}} 4`);
    expect(text).toContain(`orchestrator_model_tokens_total{${labels},kind="prompt"} 650`);
    expect(text).toMatch(new RegExp(`orchestrator_model_cost_usd_total\\{${labels}\\} 0\\.065`));
    for (const outcome of ['completed', 'reviewed', 'failed']) {
      expect(text).toContain(
        `orchestrator_requests_total{tenant="acme",workflow="support-ticket@2",outcome="${outcome}"} 1`,
      );
    }
    expect(text).toContain(
      'orchestrator_request_cost_usd_count{workflow="support-ticket@2",outcome="reviewed"} 1',
    );
    // Each ended request's cost, as the trail sums it (globex's 1.00 completed with acme's 0.01).
    expect(text).toContain(
      'orchestrator_request_cost_usd_sum{workflow="support-ticket@2",outcome="reviewed"} 0.05',
    );
    expect(text).toContain(
      'orchestrator_request_cost_usd_sum{workflow="support-ticket@2",outcome="completed"} 1.01',
    );
    expect(text).toContain(
      'orchestrator_request_cost_usd_sum{workflow="support-ticket@2",outcome="failed"} 0.005',
    );
    expect(text).toContain(
      'orchestrator_request_duration_seconds_count{workflow="support-ticket@2",outcome="completed"} 2',
    );
    // Histograms carry no tenant: acme's four calls and globex's one, 2.5 s or less.
    expect(text).toContain(
      'orchestrator_model_call_duration_seconds_bucket{le="2.5",workflow="support-ticket@2",stage="generator",model="gpt-4o-mini"} 5',
    );
  });
});
