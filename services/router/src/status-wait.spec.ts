import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore, type RecordedListener } from '@llmbus/audit';
import { EventBus, InMemoryTransport, outgoing } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import { RequestCompletedEvent } from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import pino from 'pino';
import { startRouter } from './index';

const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};
const logger = pino({ level: 'silent' });
const KEYS = { acme: 'acme-all-key-000000000001', globex: 'globex-all-key-0000000001' };
const apiKeys = ApiKeyRegistry.parse(
  `${KEYS.acme}:acme:submitter+reader,${KEYS.globex}:globex:submitter+reader`,
);
const config = loadPlatformConfig(
  { LLMBUS_MODE: 'embedded' },
  { mode: 'embedded', httpPort: 0, clientId: 'test' },
);

describe('GET /v1/requests/:id?waitMs= (long poll)', () => {
  let store: PgliteAuditStore;
  let bus: EventBus;
  let app: StageApp;
  let statusReads = 0;
  let recordedSubscriptions = 0;

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
  });
  afterAll(() => store.close());

  beforeEach(async () => {
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    // Plays the auditor: every event goes into the audit store the router reads statuses from.
    await bus.subscribe({
      stage: 'auditor',
      notifyRequester: false,
      handlers: { '*': async (event, ctx) => (await store.record(event, ctx.message!), []) },
    });
    statusReads = 0;
    recordedSubscriptions = 0;
    const sharesStore = expect.getState().currentTestName?.includes('records in this process') === true;
    const statusStore = {
      ping: () => store.ping(),
      eventById: (tenantId: string, eventId: string) => store.eventById(tenantId, eventId),
      requestStatus: (tenantId: string, requestId: string) => {
        statusReads += 1;
        return store.requestStatus(tenantId, requestId);
      },
      // As in embedded mode: the router reads the store the auditor writes in this process.
      ...(sharesStore && {
        onRecorded: (listener: RecordedListener) => {
          recordedSubscriptions += 1;
          return store.onRecorded(listener);
        },
      }),
    };
    app = await startRouter({ bus, config, logger, apiKeys, httpPort: 0, classifierModels, statusStore });
  });

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  async function submit(): Promise<string> {
    const res = await fetch(`${app.url}/v1/requests`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEYS.acme, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        eventType: 'ticket.created',
        input: { subject: 'Cannot log in', body: 'The reset mail never arrives.', priority: 'normal' },
      }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { requestId: string }).requestId;
  }

  /** Resolves once the trail has recorded the request (the auditor here records asynchronously). */
  async function recorded(requestId: string): Promise<void> {
    for (let i = 0; i < 500 && (await store.requestStatus('acme', requestId)) === undefined; i += 1)
      await new Promise((resolve) => setImmediate(resolve));
  }

  const complete = (requestId: string) =>
    bus.publish([
      outgoing(
        RequestCompletedEvent,
        {
          requestId,
          workflow: { id: 'support-ticket', version: 1 },
          output: { reply: 'Reset it.' },
          citations: [],
          attempts: 1,
          acceptedBy: 'validator',
          usage: {
            modelId: 'm',
            provider: 'scripted',
            promptTokens: 1,
            completionTokens: 1,
            costUsd: 0,
            latencyMs: 1,
          },
        },
        { tenantId: 'acme' },
      ),
    ]);

  it('answers a waiting read with the outcome once the request completes, reading the trail only when announced', async () => {
    const requestId = await submit();
    await recorded(requestId);
    statusReads = 0;
    const answer = fetch(`${app.url}/v1/requests/${requestId}?waitMs=30000`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    // Published once the read has looked at the trail (and found the request running).
    for (let i = 0; i < 500 && statusReads === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    await complete(requestId);
    const res = await answer;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      requestId,
      status: 'completed',
      output: { reply: 'Reset it.' },
    });
    // The first read, then reads only after the announcement until the auditor had recorded it;
    // never one per few ms for the whole wait.
    expect(statusReads).toBeGreaterThanOrEqual(2);
    expect(statusReads).toBeLessThan(20);
  });

  it('answers a waiting read once the store that records in this process has the outcome', async () => {
    const requestId = await submit();
    await recorded(requestId);
    statusReads = 0;
    const answer = fetch(`${app.url}/v1/requests/${requestId}?waitMs=30000`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    for (let i = 0; i < 500 && statusReads === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    await complete(requestId);
    const res = await answer;
    expect(await res.json()).toMatchObject({ requestId, status: 'completed' });
    // The wait listened to the store's recordings: the first read and the one the recording woke
    // (one more if the announcement came first).
    expect(recordedSubscriptions).toBe(1);
    expect(statusReads).toBeGreaterThanOrEqual(2);
    expect(statusReads).toBeLessThanOrEqual(3);
  });

  it('answers with the status as it stands when the wait runs out', async () => {
    const requestId = await submit();
    await recorded(requestId);
    const res = await fetch(`${app.url}/v1/requests/${requestId}?waitMs=20`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string };
    expect(['accepted', 'routed']).toContain(body.status);
  });

  it('answers a waiting read with the status as it stands when the router stops (a restart)', async () => {
    // Before: the stopping server dropped the connection, and the client got no answer at all.
    const requestId = await submit();
    await recorded(requestId);
    statusReads = 0;
    const answer = fetch(`${app.url}/v1/requests/${requestId}?waitMs=30000`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    for (let i = 0; i < 500 && statusReads === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    // Without the answer at the stop, the close waits out the 30 s wait and the test times out.
    const closing = app.close();
    const res = await answer;
    await closing;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      requestId,
      status: expect.stringMatching(/^(accepted|routed)$/),
    });
  });

  it("answers 404 at once for another tenant's request, and 400 invalid_wait for a bad waitMs", async () => {
    const requestId = await submit();
    await recorded(requestId);
    const other = await fetch(`${app.url}/v1/requests/${requestId}?waitMs=30000`, {
      headers: { 'X-Api-Key': KEYS.globex },
    });
    expect(other.status).toBe(404);
    for (const bad of ['-1', '30001', '1.5', 'soon', '']) {
      const res = await fetch(`${app.url}/v1/requests/${requestId}?waitMs=${bad}`, {
        headers: { 'X-Api-Key': KEYS.acme },
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_wait' });
    }
    const twice = await fetch(`${app.url}/v1/requests/${requestId}?waitMs=1&waitMs=2`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    expect(twice.status).toBe(400);
  });
});
