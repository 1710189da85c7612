// A router process that restarts serves every request's status from its first request: statuses
// come from the audit store (PostgreSQL), not from topics it would have to re-read, and no
// router start leaves a consumer group behind on the broker. Five service processes on the test
// broker and PostgreSQL, driven over HTTP as an API client would.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RequestCompletedEvent, ReviewRequestedEvent, Topics } from '@llmbus/contracts';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { freePort, startService, stopService, waitForPort } from '../support/service-processes';

jest.setTimeout(600_000);

const TENANT = 'e2e-restart';
/** Outcomes retained on the result topic before the request under test: what a restart must not re-read. */
const HISTORY = 5_000;

const ticket = {
  eventType: 'ticket.created',
  input: {
    subject: 'Password reset email never arrives',
    body: 'I clicked Forgot password twice but no email came. How do I get into my account?',
    priority: 'high',
  },
};

describe('router restart on Kafka and PostgreSQL: statuses from the audit store', () => {
  const pipeline = new Pipeline('e2e-router-restart', {
    tenant: TENANT,
    tapTopics: [Topics.Review.name],
  });
  let admin: Admin;
  const headers = () => ({ 'content-type': 'application/json', 'x-api-key': pipeline.apiKey });
  const getStatus = (baseUrl: string, requestId: string) =>
    fetch(`${baseUrl}/v1/requests/${encodeURIComponent(requestId)}`, { headers: headers() });

  /** Consumer groups of this pipeline's namespace on the broker, sorted. */
  async function groups(): Promise<string[]> {
    const { groups: all } = await admin.listGroups();
    return all
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(pipeline.prefix))
      .sort();
  }

  /** Waits, with a deadline, until the auditor has recorded one of `types` for the request; resolves with it. */
  async function recorded(requestId: string, types: readonly string[], timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await pipeline.db.query<{ type: string }>(
        'SELECT type FROM audit_events WHERE tenant_id = $1 AND correlation_id = $2 AND type = ANY($3::text[])',
        [TENANT, requestId, types],
      );
      if (rows.length > 0) return rows[0].type;
      if (Date.now() > deadline)
        throw new Error(
          `the auditor recorded none of ${types.join(', ')} for ${requestId} in ${timeoutMs} ms`,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Completes a request through the pipeline (approving it if the validator escalates it). */
  async function complete(requestId: string): Promise<void> {
    const response = await fetch(`${pipeline.routerUrl}/v1/requests`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ ...ticket, requestId }),
    });
    expect(response.status).toBe(202);
    const first = await recorded(requestId, [ReviewRequestedEvent.type, RequestCompletedEvent.type], 300_000);
    if (first === ReviewRequestedEvent.type) {
      const decision = await fetch(`${pipeline.auditorUrl}/v1/reviews/${requestId}/decision`, {
        method: 'POST',
        headers: headers(),
        body: JSON.stringify({ decision: 'approve', comment: 'approved by the e2e test' }),
      });
      expect(decision.status).toBeLessThan(300);
    }
    await recorded(requestId, [RequestCompletedEvent.type], 120_000);
  }

  /**
   * Puts `count` outcomes of earlier requests (another tenant's) on the result topic, as a
   * platform that has run for a while retains them; the auditor records them like any event.
   */
  async function retainHistory(count: number): Promise<void> {
    const topic = pipeline.topic(Topics.Result.name);
    for (let sent = 0; sent < count; sent += 500) {
      const messages = Array.from({ length: Math.min(500, count - sent) }, (_, i) => {
        const requestId = `history-${sent + i}`;
        return {
          key: requestId,
          headers: {
            ...ceHeaders(RequestCompletedEvent.type, requestId, 'e2e-history'),
            ce_source: '/llmbus/validator',
          },
          value: JSON.stringify({
            requestId,
            workflow: { id: 'support-ticket', version: 1 },
            output: { reply: 'Earlier answer.' },
            citations: [],
            attempts: 1,
            acceptedBy: 'validator',
            usage: {
              modelId: 'm',
              provider: 'history',
              promptTokens: 1,
              completionTokens: 1,
              costUsd: 0,
              latencyMs: 1,
            },
          }),
        };
      });
      await pipeline.producer.send({ topic, acks: -1, messages });
    }
  }

  beforeAll(async () => {
    await pipeline.start();
    admin = new Kafka({ brokers: pipeline.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await pipeline.stop();
  });

  afterEach(() => dumpOutputOnFailure(pipeline));

  /**
   * Stops the router with `signal` and starts it again; resolves when its HTTP port accepts
   * connections, with the time from spawn, and with the start-up still running in `started`.
   */
  async function restartRouter(
    signal: NodeJS.Signals,
  ): Promise<{ spawnedAt: number; started: Promise<unknown> }> {
    await pipeline.kill('router', signal);
    const spawnedAt = performance.now();
    const started = pipeline.restartService('router');
    // If the process dies during start-up, say so rather than wait for a port that never opens.
    await Promise.race([waitForPort(Number(new URL(pipeline.routerUrl).port), 120_000), started]);
    return { spawnedAt, started };
  }

  it('answers a completed request on the first GET after a killed router opens its port again', async () => {
    await retainHistory(HISTORY);
    const requestId = `restart-${randomBytes(4).toString('hex')}`;
    await complete(requestId);
    // SIGKILL: a crash, no shutdown at all.
    const { spawnedAt, started } = await restartRouter('SIGKILL');
    const portOpenAt = performance.now();
    const response = await getStatus(pipeline.routerUrl, requestId);
    const answeredAt = performance.now();
    const body = (await response.json()) as Record<string, unknown>;
    // Whatever the answer, let the start-up finish so the next test finds one router.
    await started;
    process.stdout.write(
      `[router restart, ${HISTORY} outcomes retained] port open ${(portOpenAt - spawnedAt).toFixed(0)} ms after spawn; ` +
        `first GET answered ${response.status} (${String(body['status'] ?? body['message'])}) ` +
        `${(answeredAt - portOpenAt).toFixed(0)} ms after the port opened, ` +
        `${(answeredAt - spawnedAt).toFixed(0)} ms after spawn\n`,
    );
    expect(response.status).toBe(200);
    expect(body).toMatchObject({
      requestId,
      status: 'completed',
      workflow: { id: 'support-ticket', version: 2 },
      output: expect.objectContaining({ reply: expect.any(String) }),
      updatedAt: expect.any(String),
    });
  });

  it('leaves no consumer group behind on the broker when the router restarts', async () => {
    const groupsBefore = await groups();
    // A crash, then an orderly stop: neither may leave a group of its own.
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) await (await restartRouter(signal)).started;
    const groupsAfter = await groups();
    process.stdout.write(
      `[router restart] consumer groups before: ${groupsBefore.join(', ')}\n` +
        `[router restart] consumer groups after two restarts: ${groupsAfter.join(', ')}\n`,
    );
    expect(groupsAfter).toEqual(groupsBefore);
  });

  it('starts while the audit store is unreachable: not ready, status reads 503 with Retry-After, never 404', async () => {
    const groupsBefore = await groups();
    const port = await freePort();
    const closed = await freePort(); // nothing listens here: a PostgreSQL that is down
    const replica = await startService('router', {
      ...pipeline.launchEnv('router'),
      HTTP_PORT: String(port),
      KAFKA_CLIENT_ID: `${pipeline.prefix}router-2`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/llmbus`,
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'not_ready' });
      for (const id of [`any-${randomBytes(3).toString('hex')}`, 'another']) {
        const response = await getStatus(url, id);
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(await response.json()).toMatchObject({ error: 'status_store_unavailable' });
      }
    } finally {
      await stopService(replica);
    }
    expect(await groups()).toEqual(groupsBefore);
  });
});
