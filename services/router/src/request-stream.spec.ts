import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport, outgoing } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import { RequestCompletedEvent, ResponseDraftEvent, type ResponseDraft } from '@llmbus/contracts';
import pino from 'pino';
import { startRouter } from './index';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
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
const ticket = { subject: 'Cannot log in', body: 'The reset mail never arrives.', priority: 'normal' };

interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads a Server-Sent Events body until the server ends it (or `deadlineMs` passes). */
async function readEvents(response: Response, deadlineMs = 10_000): Promise<SseEvent[]> {
  const text = await Promise.race([
    response.text(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('stream did not end')), deadlineMs)),
  ]);
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const lines = Object.fromEntries(
        block
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      );
      return {
        event: lines['event'] ?? '',
        data: JSON.parse(lines['data'] ?? '{}') as Record<string, unknown>,
      };
    });
}

describe('GET /v1/requests/:id/stream', () => {
  let store: PgliteAuditStore;
  let bus: EventBus;
  let app: StageApp;

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
    app = await startRouter({
      bus,
      config,
      logger,
      apiKeys,
      httpPort: 0,
      classifierModels,
      statusStore: store,
    });
  });

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  async function submit(key: string): Promise<string> {
    const res = await fetch(`${app.url}/v1/requests`, {
      method: 'POST',
      headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ eventType: 'ticket.created', input: ticket }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { requestId: string }).requestId;
  }

  const draft = (requestId: string, seq: number, text: string, done = false): ResponseDraft => ({
    requestId,
    attempt: 1,
    seq,
    text,
    ...(done ? { done } : {}),
  });

  it('streams status, drafts, then the outcome, and ends', async () => {
    const requestId = await submit(KEYS.acme);
    const response = await fetch(`${app.url}/v1/requests/${requestId}/stream`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = readEvents(response);

    // Another tenant's drafts for the same request id never reach this stream.
    await bus.publish([
      outgoing(ResponseDraftEvent, draft(requestId, 0, 'GLOBEX SECRET'), { tenantId: 'globex' }),
    ]);
    await bus.publish([
      outgoing(ResponseDraftEvent, draft(requestId, 0, '{"reply":"Re'), { tenantId: 'acme' }),
    ]);
    await bus.publish([
      outgoing(ResponseDraftEvent, draft(requestId, 1, '{"reply":"Reset it."}', true), { tenantId: 'acme' }),
    ]);
    await bus.publish([
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

    const received = await events;
    expect(received.map((e) => e.event)).toEqual(['status', 'draft', 'draft', 'status', 'outcome']);
    expect(received[1]?.data).toEqual({ attempt: 1, seq: 0, text: '{"reply":"Re', done: false });
    expect(received[2]?.data).toMatchObject({ seq: 1, done: true });
    expect(received[3]?.data).toEqual({ requestId, status: 'completed' });
    expect(received[4]?.data).toMatchObject({
      requestId,
      status: 'completed',
      output: { reply: 'Reset it.' },
    });
    expect(JSON.stringify(received)).not.toContain('GLOBEX');
  });

  it("answers 404 for another tenant's request, and 401 without a key", async () => {
    const requestId = await submit(KEYS.acme);
    const other = await fetch(`${app.url}/v1/requests/${requestId}/stream`, {
      headers: { 'X-Api-Key': KEYS.globex },
    });
    expect(other.status).toBe(404);
    const anonymous = await fetch(`${app.url}/v1/requests/${requestId}/stream`);
    expect(anonymous.status).toBe(401);
  });

  it('ends at once with the outcome of a request that already completed', async () => {
    const requestId = await submit(KEYS.acme);
    await bus.publish([
      outgoing(
        RequestCompletedEvent,
        {
          requestId,
          workflow: { id: 'support-ticket', version: 1 },
          output: { reply: 'Done.' },
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
    // Wait until the trail has the outcome, then connect.
    for (
      let i = 0;
      i < 200 && (await store.requestStatus('acme', requestId))?.status !== 'completed';
      i += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const response = await fetch(`${app.url}/v1/requests/${requestId}/stream`, {
      headers: { 'X-Api-Key': KEYS.acme },
    });
    const received = await readEvents(response);
    expect(received.map((e) => e.event)).toEqual(['status', 'outcome']);
    expect(received[1]?.data).toMatchObject({ status: 'completed', output: { reply: 'Done.' } });
  });
});
