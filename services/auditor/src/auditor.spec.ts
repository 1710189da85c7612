import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport, outgoing, type DedupStore } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  ContextRetrievedEvent,
  DeadLetteredEvent,
  RequestContext,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewDecidedEvent,
  ResponseGeneratedEvent,
  ReviewRequestedEvent,
  Topics,
  type EventEnvelope,
  type ReviewDecided,
} from '@llmbus/contracts';
import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { startAuditor } from './index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { exportJWK, generateKeyPair, SignJWT } = require('jose') as typeof Jose;

const logger = pino({ level: 'silent' });

const KEYS = {
  acmeReader: 'reader-key-acme-0001',
  acmeReviewer: 'review-key-acme-0001',
  acmeSubmitter: 'submit-key-acme-0001',
  acmeAdmin: 'admin0-key-acme-0001',
  acmePiiReader: 'piirdr-key-acme-0001',
  globex: 'globex-key-both-0001',
};
const API_KEYS = [
  `${KEYS.acmeReader}:acme:reader`,
  `${KEYS.acmeReviewer}:acme:reviewer::rita`,
  `${KEYS.acmeSubmitter}:acme:submitter`,
  `${KEYS.acmeAdmin}:acme:admin`,
  `${KEYS.acmePiiReader}:acme:reader+reviewer+pii-reader`,
  `${KEYS.globex}:globex:reader+reviewer`,
].join(',');

// The bus forgets nothing here on purpose only where a test says so; see the redelivery test.
const forgetful: DedupStore = { has: async () => false, add: async () => undefined };

const context: RequestContext = {
  workflow: { id: 'support-ticket', version: 1 },
  requester: { groups: [] },
  modelTier: 'small',
  budget: { maxOutputTokens: 100, maxCostUsd: 1 },
};
const usage = {
  modelId: 'gemma',
  provider: 'local',
  promptTokens: 40,
  completionTokens: 12,
  costUsd: 0.002,
  latencyMs: 120,
};

const submitted = (requestId: string, tenantId = 'acme', id?: string) =>
  outgoing(
    RequestSubmittedEvent,
    { requestId, eventType: 'ticket.created', input: { subject: 's' }, requester: { groups: [] } },
    { tenantId, id },
  );

/** An output the shipped support-ticket workflow's output schema accepts. */
const VALID_OUTPUT = {
  category: 'billing',
  priority: 'normal',
  reply: 'fixed',
  citations: [],
  needsHuman: false,
  confidence: 0.8,
};

const reviewRequested = (requestId: string) =>
  outgoing(ReviewRequestedEvent, {
    requestId,
    context,
    input: { subject: 's' },
    passages: [],
    reason: 'low confidence',
    violations: ['tone'],
    text: 'draft',
    attempts: 2,
    usage,
  });

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('auditor', () => {
  let store: PgliteAuditStore;
  let transport: InMemoryTransport;
  let bus: EventBus;
  let app: StageApp;
  let url: string;
  const producedRecords: string[] = [];
  const decisions: EventEnvelope<ReviewDecided>[] = [];
  // The identity provider: a key set on 127.0.0.1 and tokens signed with its private key.
  let idp: Server;
  let signingKey: Jose.CryptoKey;
  const ISSUER = 'https://idp.example.test';
  const token = (claims: Jose.JWTPayload) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience('llmbus')
      .setSubject('auditor-jwt-user')
      .setExpirationTime('5m')
      .sign(signingKey);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'ES256' }] });
    idp = createServer((_, res) => res.writeHead(200).end(jwks));
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    store = await PgliteAuditStore.open();
    transport = new InMemoryTransport();
    const produce = transport.produce.bind(transport);
    jest.spyOn(transport, 'produce').mockImplementation(async (records) => {
      producedRecords.push(...records.map((r) => `${r.topic}|${r.headers['ce_type']}`));
      return produce(records);
    });
    // No bus-level memory of handled ids: de-duplication must come from the store itself, as
    // after an auditor restart.
    bus = new EventBus(transport, { logger, dedup: forgetful, retryDelayMs: 1 });
    const config = loadPlatformConfig(
      {
        API_KEYS,
        HTTP_PORT: '0',
        OIDC_ISSUER: ISSUER,
        OIDC_AUDIENCE: 'llmbus',
        OIDC_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`,
      },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    app = await startAuditor({ bus, config, logger, store });
    url = app.url!;
    await bus.subscribe({
      stage: 'validator',
      groupId: 'test-decision-collector',
      notifyRequester: false,
      handlers: {
        [ReviewDecidedEvent.type]: async (e) => (decisions.push(e as EventEnvelope<ReviewDecided>), []),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
    await new Promise((resolve) => idp?.close(resolve));
  });

  const trailTypes = async (tenant: string, requestId: string) =>
    (await store.trail(tenant, requestId)).map((r) => r.envelope.type);

  describe('recording', () => {
    it('records each event it consumes with the topic, partition and offset it was read from, and publishes nothing', async () => {
      const before = producedRecords.length;
      const [input] = await bus.publish([submitted('rec-1')]);
      await bus.publish(
        [
          outgoing(RequestRoutedEvent, {
            requestId: 'rec-1',
            context,
            input: {},
            retrieval: { collections: [], topK: 0, query: '' },
          }),
          outgoing(ContextRetrievedEvent, {
            requestId: 'rec-1',
            context,
            input: {},
            passages: [],
            withheldCount: 0,
          }),
        ],
        { envelope: input, stage: 'router' },
      );
      await until(async () => (await trailTypes('acme', 'rec-1')).length === 3, 'three recorded events');
      const trail = await store.trail('acme', 'rec-1');
      expect(trail.map((r) => r.envelope.type)).toEqual([
        RequestSubmittedEvent.type,
        RequestRoutedEvent.type,
        ContextRetrievedEvent.type,
      ]);
      expect(trail[0].envelope.id).toBe(input.id);
      expect(trail[0].position).toEqual({
        topic: Topics.Request.name,
        partition: expect.any(Number),
        offset: expect.stringMatching(/^\d+$/),
      });
      expect(trail[1].position.topic).toBe(Topics.Routed.name);
      expect(producedRecords.slice(before)).toHaveLength(3);
    });

    it('stores a redelivered event once, even when the bus no longer remembers handling it', async () => {
      const [first] = await bus.publish([submitted('dup-1')]);
      await bus.publish([submitted('dup-1', 'acme', first.id)]);
      // Same key, same topic, same partition: once this one is recorded, the duplicate was handled.
      const [marker] = await bus.publish([submitted('dup-1', 'acme', `${first.id}-marker`)]);
      await until(
        async () => (await store.trail('acme', 'dup-1')).some((r) => r.envelope.id === marker.id),
        'the marker event',
      );
      expect((await store.trail('acme', 'dup-1')).map((r) => r.envelope.id)).toEqual([first.id, marker.id]);
    });

    it('records events from dead-letter topics too', async () => {
      const headers = {
        ce_id: 'raw-1',
        ce_source: '/upstream',
        ce_type: RequestSubmittedEvent.type,
        ce_specversion: '1.0',
        ce_time: new Date().toISOString(),
        ce_correlationid: 'bad-1',
        ce_tenantid: 'acme',
        ce_schemaversion: '1',
      };
      await transport.produceRaw(Topics.Request.name, 'bad-1', headers, Buffer.from('{not json'));
      await until(
        async () => (await trailTypes('acme', 'bad-1')).includes(DeadLetteredEvent.type),
        'the dead-lettered event',
      );
      const [dead] = await store.trail('acme', 'bad-1');
      expect(dead.position.topic).toBe('orchestration.dead-letter.auditor.v1');
      expect(dead.envelope.data).toMatchObject({ reasonCode: 'invalid_event', originalValue: '{not json' });
      // The auditor only observes: it never tells the requester the request failed.
      expect(producedRecords.filter((r) => r.includes('llmbus.request.failed'))).toEqual([]);
    });
  });

  it('serves the checked-in OpenAPI document at /openapi.json without a key', async () => {
    const res = await fetch(`${url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const checkedIn = readFileSync(join(__dirname, '../../../contracts/openapi/auditor.json'), 'utf8');
    expect(await res.text()).toEqual(checkedIn);
  });

  describe('HTTP', () => {
    beforeAll(async () => {
      const [input] = await bus.publish([submitted('http-1')]);
      await bus.publish([reviewRequested('http-1')], { envelope: input, stage: 'validator' });
      const [quiet] = await bus.publish([submitted('quiet-1')]);
      await bus.publish(
        [
          outgoing(ResponseGeneratedEvent, {
            requestId: 'quiet-1',
            context,
            input: {},
            passages: [],
            attempt: 1,
            prompt: { id: 'reply', version: 1 },
            renderedPrompt: 'p',
            text: 't',
            usage,
          }),
        ],
        { envelope: quiet, stage: 'generator' },
      );
      await until(
        async () =>
          (await trailTypes('acme', 'http-1')).length === 2 &&
          (await trailTypes('acme', 'quiet-1')).length === 2,
        'seed events',
      );
    });

    it('answers 401 without an API key or with an unknown one', async () => {
      await request(url).get('/v1/requests/http-1/trail').expect(401);
      await request(url)
        .get('/v1/requests/http-1/trail')
        .set('X-Api-Key', 'not-a-known-key-000000')
        .expect(401);
      await request(url).get('/metrics').expect(401);
    });

    it('answers 403 when the key lacks the role of the route', async () => {
      await request(url).get('/v1/requests/http-1/trail').set('X-Api-Key', KEYS.acmeSubmitter).expect(403);
      await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReader).expect(403);
      await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReader)
        .send({ decision: 'approve' })
        .expect(403);
    });

    it("answers 404 for another tenant's request exactly as for an unknown one", async () => {
      const foreign = await request(url)
        .get('/v1/requests/http-1/trail')
        .set('X-Api-Key', KEYS.globex)
        .expect(404);
      const unknown = await request(url)
        .get('/v1/requests/no-such-request/trail')
        .set('X-Api-Key', KEYS.globex)
        .expect(404);
      expect(foreign.body.message).toBe('no events for request http-1');
      expect(unknown.body.message).toBe('no events for request no-such-request');
      const list = await request(url).get('/v1/requests').set('X-Api-Key', KEYS.globex).expect(200);
      expect(list.body.requests).toEqual([]);
      await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.globex)
        .send({ decision: 'approve' })
        .expect(404);
    });

    it('answers every error in the documented {statusCode, error, message, details?} shape', async () => {
      const forbidden = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReader).expect(403);
      expect(forbidden.body).toEqual({
        statusCode: 403,
        error: 'forbidden_role',
        message: expect.stringMatching(/lacks the "reviewer" role/),
        role: 'reviewer',
      });
      const missing = await request(url)
        .get('/v1/requests/no-such-request/trail')
        .set('X-Api-Key', KEYS.globex)
        .expect(404);
      expect(missing.body).toEqual({
        statusCode: 404,
        error: 'not_found',
        message: 'no events for request no-such-request',
      });
      const bad = await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'maybe', extra: 1 })
        .expect(400);
      expect(bad.body).toEqual({
        statusCode: 400,
        error: 'invalid_request',
        message: expect.stringMatching(/^the request is invalid: .*decision/),
        details: expect.arrayContaining([expect.stringMatching(/extra should not exist/)]),
      });
    });

    it("serves a bearer JWT's tenant only, in the roles its claims grant", async () => {
      const acmeReader = await token({ tenant: 'acme', roles: ['reader'] });
      const trail = await request(url)
        .get('/v1/requests/http-1/trail')
        .set('Authorization', `Bearer ${acmeReader}`)
        .expect(200);
      expect(trail.body.events).toHaveLength(2);
      await request(url).get('/v1/reviews').set('Authorization', `Bearer ${acmeReader}`).expect(403);
      const globexReader = await token({ tenant: 'globex', roles: ['reader'] });
      await request(url)
        .get('/v1/requests/http-1/trail')
        .set('Authorization', `Bearer ${globexReader}`)
        .expect(404);
      const unsigned = `${acmeReader.split('.').slice(0, 2).join('.')}.`;
      await request(url)
        .get('/v1/requests/http-1/trail')
        .set('Authorization', `Bearer ${unsigned}`)
        .expect(401);
    });

    it('serves the trail of a request in order to a reader of its tenant', async () => {
      const res = await request(url)
        .get('/v1/requests/http-1/trail')
        .set('Authorization', `Bearer ${KEYS.acmeReader}`)
        .expect(200);
      expect(res.body.requestId).toBe('http-1');
      expect(res.body.events.map((e: { envelope: { type: string } }) => e.envelope.type)).toEqual([
        RequestSubmittedEvent.type,
        ReviewRequestedEvent.type,
      ]);
      expect(res.body.events[1].envelope).toMatchObject({
        tenantid: 'acme',
        correlationid: 'http-1',
        data: { reason: 'low confidence' },
      });
    });

    it("serves each record's link in its tenant's hash chain with the trail", async () => {
      const res = await request(url)
        .get('/v1/requests/http-1/trail')
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(200);
      const links = res.body.events.map(
        (e: { chain: { seq: number; prevHash: string; hash: string } }) => e.chain,
      );
      for (const link of links) {
        expect(link).toEqual({
          seq: expect.any(Number),
          prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          hash: expect.stringMatching(/^[0-9a-f]{64}$/),
          payloadDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
      }
      expect(links[1].seq).toBeGreaterThan(links[0].seq);
      expect((await store.verifyChains({ tenantId: 'acme' }))[0].broken).toBeUndefined();
    });

    it('lists requests with a cursor, and refuses a cursor it did not issue', async () => {
      const page = await request(url)
        .get('/v1/requests?limit=1')
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(200);
      expect(page.body.requests).toHaveLength(1);
      const next = await request(url)
        .get(`/v1/requests?limit=1&cursor=${page.body.nextCursor}`)
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(200);
      expect(next.body.requests[0].requestId).not.toBe(page.body.requests[0].requestId);
      const bad = await request(url)
        .get('/v1/requests?cursor=zzz')
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(400);
      expect(bad.body.error).toBe('invalid_cursor');
      await request(url).get('/v1/requests?limit=0').set('X-Api-Key', KEYS.acmeReader).expect(400);
    });

    it('reports cost by step without counting the usage a review request restates', async () => {
      const res = await request(url).get('/v1/costs').set('X-Api-Key', KEYS.acmeReader).expect(200);
      expect(res.body.steps).toEqual([
        {
          type: ResponseGeneratedEvent.type,
          stage: 'generator',
          modelId: 'gemma',
          events: 1,
          promptTokens: 40,
          completionTokens: 12,
          costUsd: 0.002,
          avgLatencyMs: 120,
          maxLatencyMs: 120,
        },
      ]);
      const later = await request(url)
        .get('/v1/costs?since=2999-01-01T00:00:00Z')
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(200);
      expect(later.body).toEqual({ since: '2999-01-01T00:00:00.000Z', steps: [] });
      await request(url).get('/v1/costs?since=yesterday').set('X-Api-Key', KEYS.acmeReader).expect(400);
    });

    it('publishes a reviewer decision as ReviewDecided caused by the pending review, once', async () => {
      const queue = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      expect(queue.body.reviews.map((r: { requestId: string }) => r.requestId)).toEqual(['http-1']);
      const reviewId: string = queue.body.reviews[0].review.envelope.id;

      await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'edit' })
        .expect(400);
      await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'maybe' })
        .expect(400);
      await request(url)
        .post('/v1/reviews/quiet-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'approve' })
        .expect(409);
      // The draft did not parse (no output): approving it would fail the request for good, so the
      // approval is refused and the review stays open for an edit or a rejection.
      const nothing = await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'approve' })
        .expect(409);
      expect(nothing.body).toEqual({
        statusCode: 409,
        error: 'nothing_to_approve',
        message:
          'the draft of request http-1 did not parse as an output of its workflow, so there is nothing to approve: decide "edit" with an output, or "reject"',
      });
      expect(decisions).toEqual([]);
      await request(url)
        .post('/v1/reviews/nothing-here/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'approve' })
        .expect(404);

      // An edit the workflow's output schema refuses is refused before anything is published.
      const refused = await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'edit', output: { reply: 'fixed' }, comment: 'tone' })
        .expect(400);
      expect(refused.body).toMatchObject({
        error: 'invalid_output',
        details: expect.arrayContaining(['output.category: is required']),
      });

      const res = await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'edit', output: VALID_OUTPUT, comment: 'tone' })
        .expect(202);
      await until(() => decisions.length === 1, 'the ReviewDecided event');
      expect(decisions[0]).toMatchObject({
        id: res.body.eventId,
        type: ReviewDecidedEvent.type,
        tenantid: 'acme',
        correlationid: 'http-1',
        causationid: reviewId,
        source: '/llmbus/auditor',
        data: {
          requestId: 'http-1',
          decision: 'edit',
          output: VALID_OUTPUT,
          comment: 'tone',
          // The principal's configured name, never the key or a prefix of it.
          reviewer: 'rita',
        },
      });

      await until(
        async () => (await trailTypes('acme', 'http-1')).includes(ReviewDecidedEvent.type),
        'the recorded decision',
      );
      const after = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      expect(after.body.reviews).toEqual([]);
      await request(url)
        .post('/v1/reviews/http-1/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({ decision: 'approve' })
        .expect(409);
    });

    it('lists tool approvals beside output reviews and takes approve, edit with arguments, or refuses late and malformed decisions', async () => {
      const approval = (requestId: string, expiresAt: string) =>
        outgoing(ReviewRequestedEvent, {
          kind: 'tool-approval',
          requestId,
          context,
          input: { alert: 'slow' },
          passages: [],
          reason: 'approve restart_service: pool exhausted',
          violations: [],
          text: 'restart_service({"service":"payments"})',
          attempts: 1,
          usage,
          toolApproval: {
            callId: `${requestId}.a1.t1.0`,
            tool: 'restart_service',
            arguments: { service: 'payments' },
            callHash: 'a'.repeat(64),
            argumentsSchema: {
              type: 'object',
              properties: { service: { type: 'string', enum: ['payments', 'auth'] } },
              required: ['service'],
              additionalProperties: false,
            },
            reason: 'pool exhausted',
            expiresAt,
            loop: {
              requestId,
              context,
              input: { alert: 'slow' },
              passages: [],
              attempt: 1,
              rounds: [],
              usage,
            },
          },
        });
      for (const [requestId, expiresAt] of [
        ['tool-1', '2999-01-01T00:00:00.000Z'],
        ['tool-late', '2001-01-01T00:00:00.000Z'],
      ]) {
        const [input] = await bus.publish([submitted(requestId)]);
        await bus.publish([approval(requestId, expiresAt)], { envelope: input, stage: 'generator' });
      }
      await until(
        async () =>
          (await trailTypes('acme', 'tool-1')).length === 2 &&
          (await trailTypes('acme', 'tool-late')).length === 2,
        'tool approvals',
      );
      const queue = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      const listed = (
        queue.body.reviews as { requestId: string; kind: string; toolApproval?: object }[]
      ).find((r) => r.requestId === 'tool-1');
      expect(listed).toMatchObject({
        kind: 'tool-approval',
        toolApproval: {
          callId: 'tool-1.a1.t1.0',
          tool: 'restart_service',
          arguments: { service: 'payments' },
          callHash: 'a'.repeat(64),
          reason: 'pool exhausted',
          expiresAt: '2999-01-01T00:00:00.000Z',
        },
      });
      expect(listed?.toolApproval).not.toHaveProperty('loop');

      const decide = (requestId: string, body: object) =>
        request(url).post(`/v1/reviews/${requestId}/decision`).set('X-Api-Key', KEYS.acmeReviewer).send(body);
      await decide('tool-1', { decision: 'edit' }).expect(400);
      await decide('tool-1', { decision: 'edit', output: { reply: 'x' } }).expect(400);
      await decide('tool-1', { decision: 'approve', arguments: { service: 'auth' } }).expect(400);
      const late = await decide('tool-late', { decision: 'approve' }).expect(409);
      expect(late.body.message).toContain('expired at 2001-01-01T00:00:00.000Z');

      const before = decisions.length;
      // The decision must name the call shown: none, or another call's hash, is refused.
      await decide('tool-1', { decision: 'edit', arguments: { service: 'auth' } }).expect(400);
      const stale = await decide('tool-1', {
        decision: 'approve',
        callHash: 'b'.repeat(64),
      }).expect(409);
      expect(stale.body.message).toContain('is for another call (restart_service, call tool-1.a1.t1.0');
      // Edited arguments that fail the tool's schema are refused naming the field, and nothing is published.
      const invalid = await decide('tool-1', {
        decision: 'edit',
        arguments: { service: 'mail', force: true },
        callHash: 'a'.repeat(64),
      }).expect(400);
      expect(invalid.body).toMatchObject({
        error: 'invalid_arguments',
        details: expect.arrayContaining([
          'arguments.service: must be equal to one of the allowed values',
          'arguments.force: is not allowed',
        ]),
      });
      expect(invalid.body.message).toContain('the approval is still pending');
      const pending = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      expect(pending.body.reviews.map((r: { requestId: string }) => r.requestId)).toContain('tool-1');
      expect(decisions.length).toBe(before);
      await decide('tool-1', {
        decision: 'edit',
        arguments: { service: 'auth' },
        callHash: 'a'.repeat(64),
        comment: 'auth instead',
      }).expect(202);
      await until(() => decisions.length === before + 1, 'the tool approval decision');
      expect(decisions.at(-1)?.data).toMatchObject({
        requestId: 'tool-1',
        decision: 'edit',
        arguments: { service: 'auth' },
        review: { kind: 'tool-approval', toolApproval: { callHash: 'a'.repeat(64) } },
      });
    });

    it("refuses (403) the submitter's approval or edit of its own tool call, and takes another reviewer's", async () => {
      const own = (requestId: string, requestedBy: boolean) => {
        const ctx = { ...context, requester: { userId: 'rita', groups: [] } };
        return outgoing(ReviewRequestedEvent, {
          kind: 'tool-approval',
          requestId,
          context: ctx,
          input: { alert: 'slow' },
          passages: [],
          reason: 'approve restart_service: pool exhausted',
          violations: [],
          text: 'restart_service({"service":"payments"})',
          attempts: 1,
          usage,
          toolApproval: {
            callId: `${requestId}.a1.t1.0`,
            tool: 'restart_service',
            arguments: { service: 'payments' },
            callHash: 'c'.repeat(64),
            // Approvals recorded before requestedBy existed fall back to the request's requester.
            ...(requestedBy && { requestedBy: 'rita' }),
            reason: 'pool exhausted',
            expiresAt: '2999-01-01T00:00:00.000Z',
            loop: { requestId, context: ctx, input: {}, passages: [], attempt: 1, rounds: [], usage },
          },
        });
      };
      for (const [requestId, requestedBy] of [
        ['self-1', true],
        ['self-legacy', false],
      ] as const) {
        const [input] = await bus.publish([submitted(requestId)]);
        await bus.publish([own(requestId, requestedBy)], { envelope: input, stage: 'generator' });
      }
      await until(
        async () =>
          (await trailTypes('acme', 'self-1')).length === 2 &&
          (await trailTypes('acme', 'self-legacy')).length === 2,
        'own tool approvals',
      );
      const decide = (key: string, requestId: string, body: object) =>
        request(url).post(`/v1/reviews/${requestId}/decision`).set('X-Api-Key', key).send(body);
      const before = decisions.length;
      for (const requestId of ['self-1', 'self-legacy']) {
        const refused = await decide(KEYS.acmeReviewer, requestId, {
          decision: 'approve',
          callHash: 'c'.repeat(64),
        }).expect(403);
        expect(refused.body).toMatchObject({ error: 'self_approval' });
        expect(refused.body.message).toBe(
          `rita submitted request ${requestId} and cannot approve its own restart_service call: another principal with the reviewer role must decide it (the requester may only reject it)`,
        );
      }
      await decide(KEYS.acmeReviewer, 'self-1', {
        decision: 'edit',
        arguments: { service: 'auth' },
        callHash: 'c'.repeat(64),
      }).expect(403);
      expect(decisions.length).toBe(before);
      // Another principal with the reviewer role decides it.
      await decide(KEYS.acmePiiReader, 'self-1', { decision: 'approve', callHash: 'c'.repeat(64) }).expect(
        202,
      );
      await until(() => decisions.length === before + 1, 'the second reviewer decision');
      expect(decisions.at(-1)?.data).toMatchObject({ requestId: 'self-1', decision: 'approve' });
      expect(decisions.at(-1)?.data.reviewer).not.toBe('rita');
    });

    it('serves /healthz without a key and /metrics to readers and admins', async () => {
      await request(url).get('/healthz').expect(200, { status: 'ok' });
      const metrics = await request(url).get('/metrics').set('X-Api-Key', KEYS.acmeReader).expect(200);
      expect(metrics.text).toMatch(
        /orchestrator_audit_events_total\{type="llmbus.request.submitted",outcome="recorded"\}/,
      );
      expect(metrics.text).toContain(
        'orchestrator_model_tokens_total{tenant="acme",workflow="support-ticket@1",stage="generator",model="gemma",kind="prompt"} 40',
      );
      expect(metrics.text).not.toMatch(/orchestrator_model_\w+\{[^}]*stage="validator"/);
      await request(url).get('/metrics').set('X-Api-Key', KEYS.acmeAdmin).expect(200);
      await request(url).get('/metrics').set('X-Api-Key', KEYS.acmeReviewer).expect(403);
    });

    it('serves the console page and its own assets only, under a policy that loads nothing from elsewhere', async () => {
      const page = await request(url).get('/console').expect(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
      expect(page.text).toContain('<script src="/console/assets/console.js" type="module">');
      expect(page.text).not.toMatch(/https?:\/\//);
      const chart = await request(url).get('/console/assets/chart.umd.min.js').expect(200);
      expect(chart.headers['content-type']).toMatch(/^text\/javascript/);
      expect(chart.text).toContain('Chart.js');
      await request(url).get('/console/assets/console.js').expect(200);
      // console.js imports its chart formatting as a module of its own.
      const format = await request(url).get('/console/assets/chart-format.js').expect(200);
      expect(format.headers['content-type']).toMatch(/^text\/javascript/);
      await request(url).get('/console/assets/..%2Fsrc%2Fconsole.controller.ts').expect(404);
      await request(url).get('/console/assets/index.html').expect(404);
    });

    it('says who a key is, lists dead letters to readers and replays them for admins only', async () => {
      const who = await request(url).get('/v1/principal').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      expect(who.body).toMatchObject({ id: 'rita', tenantId: 'acme', roles: ['reviewer'] });
      const list = await request(url).get('/v1/dead-letters').set('X-Api-Key', KEYS.acmeReader).expect(200);
      expect(list.body).toEqual({ deadLetters: expect.any(Array) });
      await request(url).get('/v1/dead-letters?limit=0').set('X-Api-Key', KEYS.acmeReader).expect(400);
      await request(url).post('/v1/dead-letters/nope/replay').set('X-Api-Key', KEYS.acmeReviewer).expect(403);
      await request(url).post('/v1/dead-letters/nope/replay').set('X-Api-Key', KEYS.acmeAdmin).expect(404);
    });
  });

  describe('personal data in the trail', () => {
    const body = 'I am Maria Schneider, card 4111 1111 1111 1111, mail maria.schneider@example.de.';
    const raw = /Schneider|4111 1111|maria\.schneider@/;

    it('stores payloads masked, and serves raw values only to the pii-reader role (and admins)', async () => {
      await bus.publish([
        outgoing(
          RequestSubmittedEvent,
          {
            requestId: 'pii-1',
            eventType: 'ticket.created',
            input: { subject: 'refund', body },
            requester: { groups: [] },
          },
          { tenantId: 'acme' },
        ),
      ]);
      await until(async () => (await trailTypes('acme', 'pii-1')).length === 1, 'the recorded request');
      const [stored] = await store.trail('acme', 'pii-1');
      expect(JSON.stringify(stored.envelope.data)).not.toMatch(raw);
      expect((stored.envelope.data['input'] as { body: string }).body).toBe(
        'I am <PERSON_1>, card <PAYMENT_CARD_1>, mail <EMAIL_1>.',
      );

      const masked = await request(url)
        .get('/v1/requests/pii-1/trail')
        .set('X-Api-Key', KEYS.acmeReader)
        .expect(200);
      expect(JSON.stringify(masked.body)).not.toMatch(raw);
      expect(JSON.stringify(masked.body)).not.toContain('_piiVault');
      for (const key of [KEYS.acmePiiReader, KEYS.acmeAdmin]) {
        const full = await request(url).get('/v1/requests/pii-1/trail').set('X-Api-Key', key).expect(200);
        expect(full.body.events[0].envelope.data.input.body).toBe(body);
        expect(JSON.stringify(full.body)).not.toContain('_piiVault');
      }
    });

    it('publishes a decision with the raw review, and restores placeholders a reviewer kept in an edit', async () => {
      const output = { reply: `Dear Maria Schneider, we refunded you.`, citations: [] };
      const [input] = await bus.publish([submitted('pii-2')]);
      await bus.publish(
        [{ ...reviewRequested('pii-2'), payload: { ...reviewRequested('pii-2').payload, output } }],
        { envelope: input, stage: 'validator' },
      );
      await until(async () => (await trailTypes('acme', 'pii-2')).length === 2, 'the recorded review');
      const queue = await request(url).get('/v1/reviews').set('X-Api-Key', KEYS.acmeReviewer).expect(200);
      const pending = (queue.body.reviews as { requestId: string; review: AuditRecordJson }[]).find(
        (r) => r.requestId === 'pii-2',
      )!;
      expect(pending.review.envelope.data.output.reply).toBe('Dear <PERSON_1>, we refunded you.');
      await request(url)
        .post('/v1/reviews/pii-2/decision')
        .set('X-Api-Key', KEYS.acmeReviewer)
        .send({
          decision: 'edit',
          output: { ...VALID_OUTPUT, reply: 'Dear <PERSON_1>, your refund is on its way.' },
        })
        .expect(202);
      await until(() => decisions.some((d) => d.data.requestId === 'pii-2'), 'the decision');
      const decision = decisions.find((d) => d.data.requestId === 'pii-2')!;
      expect(decision.data.output).toEqual({
        ...VALID_OUTPUT,
        reply: 'Dear Maria Schneider, your refund is on its way.',
      });
      expect(decision.data.review.output).toEqual(output);
    });
  });
});

interface AuditRecordJson {
  envelope: { data: { output: { reply: string } } };
}
