import { ApiKeyRegistry } from '@llmbus/access';
import { PgliteAuditStore, type RequestStatusView } from '@llmbus/audit';
import { EventBus, type HandlerContext, InMemoryTransport, outgoing, replayDeadLetters } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestCompletedEvent,
  RequestFailed,
  RequestFailedEvent,
  RequestRouted,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewRequestedEvent,
  TerminalError,
} from '@llmbus/contracts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { startRouter, type RequestStatusSource } from './index';
import { requestIdReuse } from './request-id-reuse';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};

const logger = pino({ level: 'silent' });
const KEYS = {
  submitter: 'acme-submitter-key-0001',
  reader: 'acme-reader-key-00000001',
  globex: 'globex-all-key-00000001',
  acmeAdmin: 'acme-admin-key-000000001',
};
const apiKeys = ApiKeyRegistry.parse(
  `${KEYS.submitter}:acme:submitter+reader,${KEYS.reader}:acme:reader,${KEYS.globex}:globex:submitter+reader,${KEYS.acmeAdmin}:acme:admin`,
);
const config = loadPlatformConfig(
  { LLMBUS_MODE: 'embedded' },
  { mode: 'embedded', httpPort: 0, clientId: 'test' },
);
const ticket = { subject: 'Cannot log in', body: 'The reset mail never arrives.', priority: 'normal' };

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('router', () => {
  let store: PgliteAuditStore;
  let bus: EventBus;
  let app: StageApp;
  let http: ReturnType<typeof request>;
  const seen: Record<string, EventEnvelope<object>[]> = {};

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
  });
  afterAll(() => store.close());

  beforeEach(async () => {
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    // The observers play the auditor: an event is in the audit store before it counts as seen.
    const observed = [
      RequestSubmittedEvent.type,
      RequestRoutedEvent.type,
      RequestFailedEvent.type,
      RequestCompletedEvent.type,
      ReviewRequestedEvent.type,
      DeadLetteredEvent.type,
    ];
    for (const type of observed) {
      seen[type] = [];
      await bus.subscribe({
        stage: 'auditor',
        groupId: `observer-${type}`,
        notifyRequester: false,
        handlers: {
          [type]: async (e, ctx) => {
            await store.record(e, ctx.message!);
            seen[type].push(e);
            return [];
          },
        },
      });
    }
    app = await startRouter({
      bus,
      config,
      logger,
      apiKeys,
      httpPort: 0,
      classifierModels,
      statusStore: store,
    });
    http = request(app.url!);
  });

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  describe('HTTP ingress', () => {
    it('serves the checked-in OpenAPI document at /openapi.json without a key', async () => {
      const res = await http
        .get('/openapi.json')
        .expect(200)
        .expect('Content-Type', /application\/json/);
      const checkedIn = readFileSync(join(__dirname, '../../../contracts/openapi/router.json'), 'utf8');
      expect(res.text).toEqual(checkedIn);
    });

    it('answers 401 without an API key, on every route but /healthz', async () => {
      await http.post('/v1/requests').send({ eventType: 'ticket.created', input: ticket }).expect(401);
      await http.get('/v1/requests/r-1').expect(401);
      await http.get('/metrics').expect(401);
      await http.get('/healthz').expect(200, { status: 'ok' });
    });

    it('answers 403 forbidden_role when the key lacks the role, and 404 not_found, in the documented error shape', async () => {
      const res = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.reader)
        .send({ eventType: 'ticket.created', input: ticket })
        .expect(403);
      expect(res.body).toEqual({
        statusCode: 403,
        error: 'forbidden_role',
        message: expect.stringMatching(/lacks the "submitter" role/),
        role: 'submitter',
      });
      const missing = await http.get('/v1/requests/nobody').set('X-Api-Key', KEYS.reader).expect(404);
      expect(missing.body).toEqual({
        statusCode: 404,
        error: 'not_found',
        message: expect.stringMatching(/no record of request "nobody"/),
      });
    });

    it('answers 400 naming the bad field, and refuses a tenant in the body', async () => {
      const bad = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send({ eventType: 'ticket.created', input: 'text', requester: { groups: [1] }, tenantId: 'globex' })
        .expect(400);
      expect(bad.body.details).toEqual(
        expect.arrayContaining([
          'input: input must be a JSON object',
          expect.stringMatching(/^requester\.groups: /),
          'tenantId: property tenantId should not exist',
        ]),
      );
      expect(seen[RequestSubmittedEvent.type]).toHaveLength(0);
    });

    it('answers 400 naming the input field the workflow schema rejects, and an unknown workflow', async () => {
      const invalid = await http
        .post('/v1/requests')
        .set('Authorization', `Bearer ${KEYS.submitter}`)
        .send({ eventType: 'ticket.created', input: { subject: 'x', priority: 'asap' } })
        .expect(400);
      expect(invalid.body).toMatchObject({ error: 'invalid_input' });
      expect(invalid.body.details).toEqual(
        expect.arrayContaining([
          'input.body: is required',
          expect.stringMatching(/^input\.priority: must be one of/),
        ]),
      );
      const unknown = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send({ eventType: 'ticket.created', workflow: 'nope', input: ticket })
        .expect(400);
      expect(unknown.body).toMatchObject({
        error: 'unknown_workflow',
        message: expect.stringMatching(/known workflows: .*support-ticket \(v\d/),
      });
    });

    it('accepts a request with 202, publishes it under the key tenant, and routes it', async () => {
      const res = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send({ eventType: 'ticket.created', input: ticket })
        .expect(202);
      expect(res.body).toEqual({
        requestId: expect.any(String),
        status: 'accepted',
        statusUrl: `/v1/requests/${res.body.requestId}`,
      });
      await until(() => seen[RequestRoutedEvent.type].length === 1);
      const [submitted] = seen[RequestSubmittedEvent.type];
      expect(submitted).toMatchObject({ tenantid: 'acme', correlationid: res.body.requestId });
      const routed = seen[RequestRoutedEvent.type][0] as EventEnvelope<RequestRouted>;
      expect(routed.tenantid).toBe('acme');
      expect(routed.data.context.workflow).toEqual({ id: 'support-ticket', version: 2 });
      // Recorded by the observer before it was counted as seen: the trail has it now.
      const status = await http.get(res.body.statusUrl).set('X-Api-Key', KEYS.reader).expect(200);
      expect(status.body).toMatchObject({
        requestId: res.body.requestId,
        status: 'routed',
        workflow: { id: 'support-ticket', version: 2 },
      });
    });

    it('gives a retried POST with the same requestId the same event id', async () => {
      const produce = jest.spyOn(bus.transport, 'produce');
      const body = { requestId: 'ticket-42', eventType: 'ticket.created', input: ticket };
      await http.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(body).expect(202);
      await http.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(body).expect(202);
      await http.post('/v1/requests').set('X-Api-Key', KEYS.globex).send(body).expect(202);
      const ids = produce.mock.calls
        .flatMap(([records]) => records)
        .filter((r) => r.headers['ce_type'] === RequestSubmittedEvent.type)
        .map((r) => r.headers['ce_id']);
      expect(ids).toHaveLength(3);
      expect(ids[1]).toBe(ids[0]);
      expect(ids[2]).not.toBe(ids[0]);
      // One partition (key = request id) delivers first, retry, other tenant in order, so once two
      // are routed the retry has been handled: dropped as a duplicate.
      await until(() => seen[RequestRoutedEvent.type].length === 2);
      expect(seen[RequestSubmittedEvent.type]).toHaveLength(2);
    });

    it('refuses the same requestId with a different body with 409 request_id_conflict, publishing nothing', async () => {
      const produce = jest.spyOn(bus.transport, 'produce');
      const body = { requestId: 'ticket-43', eventType: 'ticket.created', input: ticket };
      await http.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(body).expect(202);
      // Key order does not matter: the bodies are compared by their RFC 8785 digest.
      const reordered = {
        input: { priority: 'normal', body: ticket.body, subject: ticket.subject },
        eventType: body.eventType,
        requestId: body.requestId,
      };
      await http.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(reordered).expect(202);
      const changed = { ...body, input: { ...ticket, subject: 'Another problem' } };
      const conflict = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send(changed)
        .expect(409);
      expect(conflict.body).toEqual({
        statusCode: 409,
        error: 'request_id_conflict',
        message: expect.stringMatching(/request id "ticket-43" was already used with a different body/),
        requestId: 'ticket-43',
      });
      // Another tenant's request id is its own: no conflict.
      await http.post('/v1/requests').set('X-Api-Key', KEYS.globex).send(changed).expect(202);
      const submitted = produce.mock.calls
        .flatMap(([records]) => records)
        .filter((r) => r.headers['ce_type'] === RequestSubmittedEvent.type);
      expect(submitted).toHaveLength(3);
    });

    it('refuses a reused requestId on another replica, which reads the first body digest from the audit trail', async () => {
      const body = { requestId: 'ticket-44', eventType: 'ticket.created', input: ticket };
      await http.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(body).expect(202);
      await until(() => seen[RequestSubmittedEvent.type].length === 1);
      // The other replica shares only the audit store: its own bus, its own recent acceptances.
      const otherBus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
      const other = await startRouter({
        bus: otherBus,
        config,
        logger,
        apiKeys,
        httpPort: 0,
        classifierModels,
        statusStore: store,
      });
      try {
        const replica = request(other.url!);
        const changed = { ...body, replyTo: 'crm-case-7' };
        const res = await replica
          .post('/v1/requests')
          .set('X-Api-Key', KEYS.submitter)
          .send(changed)
          .expect(409);
        expect(res.body.error).toBe('request_id_conflict');
        await replica.post('/v1/requests').set('X-Api-Key', KEYS.submitter).send(body).expect(202);
      } finally {
        await other.close();
        await otherBus.close();
      }
    });

    it('scopes GET status to the tenant of the key: another tenant gets 404', async () => {
      const res = await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send({ requestId: 'acme-only', eventType: 'ticket.created', input: ticket })
        .expect(202);
      await http.get(res.body.statusUrl).set('X-Api-Key', KEYS.acmeAdmin).expect(200);
      const foreign = await http.get(res.body.statusUrl).set('X-Api-Key', KEYS.globex).expect(404);
      const missing = await http.get('/v1/requests/nobody').set('X-Api-Key', KEYS.globex).expect(404);
      expect(foreign.body.message).toBe(missing.body.message.replace('"nobody"', '"acme-only"'));
      // Once the auditor has it, the trail answers: still only to its own tenant.
      await until(() => seen[RequestRoutedEvent.type].length === 1);
      await http.get(res.body.statusUrl).set('X-Api-Key', KEYS.acmeAdmin).expect(200);
      await http.get(res.body.statusUrl).set('X-Api-Key', KEYS.globex).expect(404);
    });

    it('serves the status of a request it never saw, from the audit trail (another replica took it)', async () => {
      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          {
            requestId: 'via-kafka',
            eventType: 'ticket.created',
            input: ticket,
            requester: { groups: [] },
          },
          { tenantId: 'acme' },
        ),
      ]);
      await until(() => seen[RequestRoutedEvent.type].length === 1);
      const status = await http.get('/v1/requests/via-kafka').set('X-Api-Key', KEYS.reader).expect(200);
      expect(status.body).toEqual({
        requestId: 'via-kafka',
        status: 'routed',
        updatedAt: expect.any(String),
        workflow: { id: 'support-ticket', version: 2 },
      });
    });

    it('shows the outcome once RequestCompleted arrives', async () => {
      await http
        .post('/v1/requests')
        .set('X-Api-Key', KEYS.submitter)
        .send({ requestId: 'done-1', eventType: 'ticket.created', input: ticket })
        .expect(202);
      await until(() => seen[RequestRoutedEvent.type].length === 1);
      const usage = {
        modelId: 'm',
        provider: 'scripted',
        promptTokens: 1,
        completionTokens: 1,
        costUsd: 0,
        latencyMs: 1,
      };
      const output = { reply: 'Use the reset link.' };
      await bus.publish([
        outgoing(
          RequestCompletedEvent,
          {
            requestId: 'done-1',
            workflow: { id: 'support-ticket', version: 1 },
            output,
            citations: [],
            attempts: 1,
            acceptedBy: 'validator',
            usage,
          },
          { tenantId: 'acme' },
        ),
      ]);
      let body: { status?: string; output?: unknown } = {};
      const deadline = Date.now() + 5000;
      while (body.status !== 'completed' && Date.now() < deadline) {
        body = (await http.get('/v1/requests/done-1').set('X-Api-Key', KEYS.reader).expect(200)).body;
      }
      expect(body).toMatchObject({ status: 'completed', output, acceptedBy: 'validator' });
    });

    it('serves Prometheus metrics to readers and admins only', async () => {
      const res = await http.get('/metrics').set('X-Api-Key', KEYS.reader).expect(200);
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      await http.get('/metrics').set('X-Api-Key', KEYS.acmeAdmin).expect(200);
    });
  });

  describe('routing consumer', () => {
    it('fails a Kafka-submitted request with an unknown event type as unknown_workflow', async () => {
      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          { requestId: 'k-1', eventType: 'pager.paged', input: {}, requester: { groups: [] } },
          { tenantId: 'acme' },
        ),
      ]);
      await until(() => seen[RequestFailedEvent.type].length === 1);
      expect(seen[RequestFailedEvent.type][0].data as RequestFailed).toMatchObject({
        requestId: 'k-1',
        code: 'unknown_workflow',
        stage: 'router',
      });
    });

    it('fails invalid input as invalid_input with a message naming the field', async () => {
      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          {
            requestId: 'k-2',
            eventType: 'ticket.created',
            input: { subject: 's' },
            requester: { groups: [] },
          },
          { tenantId: 'acme' },
        ),
      ]);
      await until(() => seen[RequestFailedEvent.type].length === 1);
      const failed = seen[RequestFailedEvent.type][0].data as RequestFailed;
      expect(failed).toMatchObject({
        requestId: 'k-2',
        code: 'invalid_input',
        details: ['input.body: is required'],
      });
      expect(failed.message).toMatch(/input\.body: is required/);
    });

    describe('a request id re-sent under a new event id', () => {
      // The audit store outlives each test: every test has request ids of its own.
      const requestOf = (requestId: string) => ({
        requestId,
        eventType: 'ticket.created',
        input: ticket,
        requester: { groups: [] as string[] },
      });

      /** Resolves once the consumer has counted `n` reuses of a request id. */
      async function reuses(n: number): Promise<() => Promise<void>> {
        const counted = async () => (await requestIdReuse.get()).values.reduce((sum, v) => sum + v.value, 0);
        const before = await counted();
        return async function wait(): Promise<void> {
          const deadline = Date.now() + 5000;
          while ((await counted()) < before + n) {
            if (Date.now() > deadline)
              throw new Error(`${n} request-id reuse(s) not counted before the deadline`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        };
      }

      it('drops the same body as a duplicate: routed once, nothing published for the second event', async () => {
        const request = requestOf('k-dup-1');
        const counted = await reuses(1);
        const produce = jest.spyOn(bus.transport, 'produce');
        await bus.publish([outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-1' })]);
        await until(() => seen[RequestRoutedEvent.type].length === 1);
        // Key order is not part of the body: compared by the RFC 8785 digest.
        const reordered = {
          requester: request.requester,
          input: { ...ticket },
          eventType: 'ticket.created',
          requestId: 'k-dup-1',
        };
        await bus.publish([outgoing(RequestSubmittedEvent, reordered, { tenantId: 'acme', id: 'ce-dup-2' })]);
        await counted();
        const published = produce.mock.calls
          .flatMap(([records]) => records)
          .filter((r) => r.headers['ce_type'] !== RequestSubmittedEvent.type);
        expect(published.map((r) => r.headers['ce_causationid'])).toEqual(['ce-dup-1']);
        expect(seen[RequestRoutedEvent.type]).toHaveLength(1);
        expect(seen[DeadLetteredEvent.type]).toHaveLength(0);
        expect(seen[RequestFailedEvent.type]).toHaveLength(0);
        expect((await requestIdReuse.get()).values).toContainEqual(
          expect.objectContaining({ labels: { tenant: 'acme', outcome: 'duplicate' } }),
        );
      });

      it('dead-letters another body as request_id_conflict, with no RequestFailed for the first request', async () => {
        const request = requestOf('k-dup-2');
        const counted = await reuses(1);
        await bus.publish([outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-3' })]);
        await until(() => seen[RequestRoutedEvent.type].length === 1);
        const other = { ...request, input: { ...ticket, subject: 'Another problem' } };
        await bus.publish([outgoing(RequestSubmittedEvent, other, { tenantId: 'acme', id: 'ce-dup-4' })]);
        await counted();
        await until(() => seen[DeadLetteredEvent.type].length === 1);
        const dead = seen[DeadLetteredEvent.type][0].data as DeadLettered;
        expect(dead).toMatchObject({
          stage: 'router',
          reasonCode: 'request_id_conflict',
          reason: 'request id "k-dup-2" was already used for another request; use a new request id',
          correlationId: 'k-dup-2',
        });
        expect(dead.errors).toEqual(expect.arrayContaining(['ce_id: ce-dup-4', 'earlier ce_id: ce-dup-3']));
        expect(dead.originalHeaders['ce_id']).toBe('ce-dup-4');
        expect(seen[RequestFailedEvent.type]).toHaveLength(0);
        expect(seen[RequestRoutedEvent.type]).toHaveLength(1);
        const status = await http.get('/v1/requests/k-dup-2').set('X-Api-Key', KEYS.reader).expect(200);
        expect(status.body).toMatchObject({ requestId: 'k-dup-2', status: 'routed' });
      });

      it('recognises a request submitted over HTTP and re-produced on Kafka', async () => {
        const counted = await reuses(1);
        await http
          .post('/v1/requests')
          .set('X-Api-Key', KEYS.submitter)
          .send({ requestId: 'k-http', eventType: 'ticket.created', input: ticket })
          .expect(202);
        await until(() => seen[RequestRoutedEvent.type].length === 1);
        const first = seen[RequestSubmittedEvent.type][0];
        // What an upstream system copying the message would produce, without the ingress digest.
        const { submissionDigest, ...copy } = first.data as { submissionDigest?: string };
        expect(submissionDigest).toMatch(/^[0-9a-f]{64}$/);
        await bus.publish([
          outgoing(RequestSubmittedEvent, copy as ReturnType<typeof requestOf>, {
            tenantId: 'acme',
            id: 'ce-dup-5',
          }),
        ]);
        await counted();
        expect(seen[RequestRoutedEvent.type]).toHaveLength(1);
        expect(seen[DeadLetteredEvent.type]).toHaveLength(0);
      });

      it('finds the first routing in the audit trail on a replica that did not route it', async () => {
        const request = requestOf('k-dup-3');
        await bus.publish([outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-6' })]);
        await until(() => seen[RequestRoutedEvent.type].length === 1);
        const routed = seen[RequestRoutedEvent.type][0] as EventEnvelope<RequestRouted>;
        expect(routed.data.submissionDigest).toMatch(/^[0-9a-f]{64}$/);
        // A fresh router on another bus shares only the audit store: nothing in its memory.
        const otherBus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
        const other = await startRouter({
          bus: otherBus,
          config,
          logger,
          apiKeys,
          httpPort: 0,
          classifierModels,
          statusStore: store,
        });
        const dead: DeadLettered[] = [];
        const routedHere: EventEnvelope<object>[] = [];
        await otherBus.subscribe({
          stage: 'auditor',
          groupId: 'observer-other',
          notifyRequester: false,
          handlers: {
            [DeadLetteredEvent.type]: async (e) => (dead.push(e.data as DeadLettered), []),
            [RequestRoutedEvent.type]: async (e) => (routedHere.push(e), []),
          },
        });
        try {
          const counted = await reuses(2);
          await otherBus.publish([
            outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-7' }),
          ]);
          const other2 = { ...request, replyTo: 'crm-case-9' };
          await otherBus.publish([
            outgoing(RequestSubmittedEvent, other2, { tenantId: 'acme', id: 'ce-dup-8' }),
          ]);
          await counted();
          await until(() => dead.length === 1);
          expect(dead[0]).toMatchObject({ reasonCode: 'request_id_conflict', correlationId: 'k-dup-3' });
          expect(dead[0].originalHeaders['ce_id']).toBe('ce-dup-8');
          expect(routedHere).toHaveLength(0);
          // The routed event itself, delivered again (a replay keeps its event id), is not its own duplicate.
          await otherBus.publish([
            outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-6' }),
          ]);
          await until(() => routedHere.length === 1);
        } finally {
          await other.close();
          await otherBus.close();
        }
      });

      it('routes a dead letter replayed after its first attempt failed: the same event, never a duplicate', async () => {
        let broken = true;
        const flaky = {
          embed: async (texts: readonly string[]) => {
            if (broken) throw new TerminalError('model_error', 'the embedding model is down');
            return classifierModels.embed(texts);
          },
        };
        const ownBus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
        const own = await startRouter({
          bus: ownBus,
          config,
          logger,
          apiKeys,
          httpPort: 0,
          classifierModels: flaky,
          statusStore: store,
        });
        const types: string[] = [];
        await ownBus.subscribe({
          stage: 'auditor',
          groupId: 'observer-replay',
          notifyRequester: false,
          handlers: Object.fromEntries(
            [RequestRoutedEvent.type, RequestFailedEvent.type, DeadLetteredEvent.type].map((type) => [
              type,
              async (e: EventEnvelope<object>, ctx: HandlerContext) => {
                await store.record(e, ctx.message!);
                types.push(type);
                return [];
              },
            ]),
          ),
        });
        try {
          const request = requestOf('k-replay');
          await ownBus.publish([
            outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-replay-1' }),
          ]);
          await until(
            () => types.includes(DeadLetteredEvent.type) && types.includes(RequestFailedEvent.type),
          );
          broken = false;
          const report = await replayDeadLetters(ownBus, 'router', { correlationId: 'k-replay' });
          expect(report.replayed).toBe(1);
          await until(() => types.includes(RequestRoutedEvent.type));
          expect(types.filter((t) => t === DeadLetteredEvent.type)).toHaveLength(1);
        } finally {
          await own.close();
          await ownBus.close();
        }
      });

      it('routes a corrected request under the id of one the router refused: only a routing counts', async () => {
        const request = requestOf('k-fix');
        await bus.publish([
          outgoing(
            RequestSubmittedEvent,
            { ...request, input: { subject: 's' } },
            { tenantId: 'acme', id: 'ce-dup-9' },
          ),
        ]);
        await until(() => seen[RequestFailedEvent.type].length === 1);
        await bus.publish([outgoing(RequestSubmittedEvent, request, { tenantId: 'acme', id: 'ce-dup-10' })]);
        await until(() => seen[RequestRoutedEvent.type].length === 1);
        expect(seen[DeadLetteredEvent.type]).toHaveLength(1);
      });
    });
  });
});

describe('router status when the audit trail lags or its store does not answer', () => {
  let bus: EventBus;
  let app: StageApp | undefined;
  /** The audit store's answers, set by each test. */
  let trail: { status?: RequestStatusView; failure?: Error; pingFailure?: Error };
  const statusStore: RequestStatusSource = {
    requestStatus: async () => {
      if (trail.failure) throw trail.failure;
      return trail.status;
    },
    ping: async () => {
      if (trail.pingFailure) throw trail.pingFailure;
    },
  };

  async function start(): Promise<ReturnType<typeof request>> {
    app = await startRouter({ bus, config, logger, apiKeys, httpPort: 0, classifierModels, statusStore });
    return request(app.url!);
  }

  beforeEach(() => {
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    trail = {};
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await bus.close();
  });

  const post = (http: ReturnType<typeof request>, requestId: string) =>
    http
      .post('/v1/requests')
      .set('X-Api-Key', KEYS.submitter)
      .send({ requestId, eventType: 'ticket.created', input: ticket })
      .expect(202);

  it('answers accepted right after the POST, before the auditor has recorded the request', async () => {
    const http = await start();
    await post(http, 'just-now');
    const res = await http.get('/v1/requests/just-now').set('X-Api-Key', KEYS.reader).expect(200);
    expect(res.body).toEqual({ requestId: 'just-now', status: 'accepted', updatedAt: expect.any(String) });
    await http.get('/v1/requests/just-now').set('X-Api-Key', KEYS.globex).expect(404);
  });

  it('answers from the audit trail once it has the request, whatever this replica remembers', async () => {
    const http = await start();
    await post(http, 'done-2');
    trail.status = {
      requestId: 'done-2',
      status: 'completed',
      updatedAt: '2026-01-01T12:00:05.000Z',
      output: { reply: 'ok' },
    };
    const res = await http.get('/v1/requests/done-2').set('X-Api-Key', KEYS.reader).expect(200);
    expect(res.body).toMatchObject({ status: 'completed', output: { reply: 'ok' } });
  });

  it('answers 404 for an id unknown to the trail and to this replica, saying the auditor may be behind', async () => {
    const http = await start();
    const res = await http.get('/v1/requests/never-sent').set('X-Api-Key', KEYS.reader).expect(404);
    expect(res.body.message).toMatch(/audit trail has no record of request "never-sent" for this tenant/);
    expect(res.body.message).toMatch(/auditor may be behind: retry in a few seconds/);
  });

  it('answers 503 with Retry-After, never 404, while the audit store does not answer; POST still works', async () => {
    const http = await start();
    trail.failure = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    await post(http, 'during-outage');
    for (const id of ['during-outage', 'unknown-id']) {
      const res = await http.get(`/v1/requests/${id}`).set('X-Api-Key', KEYS.reader).expect(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body).toMatchObject({
        error: 'status_store_unavailable',
        message: expect.stringMatching(/retry in 5 s/),
      });
      expect(JSON.stringify(res.body)).not.toContain('ECONNREFUSED');
    }
  });

  it('starts while the audit store is down and reports not ready on /healthz until it answers', async () => {
    trail.pingFailure = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const http = await start();
    const down = await http.get('/healthz').expect(503);
    expect(down.body).toEqual({
      status: 'not_ready',
      reason: 'request statuses are read from the audit store, which does not answer yet',
    });
    trail.pingFailure = undefined;
    await http.get('/healthz').expect(200, { status: 'ok' });
    // A later outage shows in status reads (503), not in readiness: ingestion needs no store.
    trail.pingFailure = new Error('connection terminated');
    await http.get('/healthz').expect(200, { status: 'ok' });
  });
});
