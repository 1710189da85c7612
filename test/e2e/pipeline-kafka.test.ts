// The whole pipeline as five service processes on a real Kafka broker and a real PostgreSQL,
// driven and observed only through Kafka (plain kafkajs) and the auditor's database, as an
// upstream system and an operator would.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  DeadLetterTopics,
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestSubmittedEvent,
  ReviewRequestedEvent,
  Topics,
} from '@llmbus/contracts';
import { loadSampleDocuments } from '@llmbus/svc-embedded';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { TappedMessage } from '../support/topic-tap';

jest.setTimeout(600_000);

const TENANT = 'e2e';
const MAX_EVENT_BYTES = 64 * 1024;

function ticket(requestId: string, overrides: Record<string, unknown> = {}) {
  return {
    requestId,
    eventType: 'ticket.created',
    input: {
      subject: 'Password reset email never arrives',
      body: 'I clicked Forgot password twice but no email came. How do I get into my account?',
      priority: 'high',
      product: 'Acme Sync',
    },
    requester: { userId: 'helpdesk-bot', groups: [] },
    ...overrides,
  };
}

describe('pipeline on Kafka: five service processes', () => {
  const pipeline = new Pipeline('e2e-pipeline', {
    tenant: TENANT,
    tapTopics: [
      Topics.Result.name,
      Topics.Review.name,
      Topics.DocumentIndexed.name,
      DeadLetterTopics.router.name,
    ],
    env: { LLMBUS_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES) },
  });
  const topic = (name: string) => pipeline.topic(name);
  const send = pipeline.send.bind(pipeline);

  async function submit(payload: Record<string, unknown>, requestId: string) {
    await send(
      Topics.Request.name,
      requestId,
      ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
      JSON.stringify(payload),
    );
  }

  const resultFor = (requestId: string, type?: string) => (m: TappedMessage) =>
    m.topic === topic(Topics.Result.name) && m.key === requestId && (!type || m.headers['ce_type'] === type);

  beforeAll(async () => {
    await pipeline.start();
    // Product docs, submitted by an upstream document system over Kafka.
    const { documents } = loadSampleDocuments(join(__dirname, '..', '..', 'samples', 'documents'));
    for (const doc of documents) {
      await send(
        Topics.DocumentIngest.name,
        doc.documentId,
        ceHeaders(DocumentSubmittedEvent.type, doc.documentId, TENANT),
        JSON.stringify(doc),
      );
    }
    for (const doc of documents) {
      await pipeline.tap.waitFor(
        (m) => m.headers['ce_type'] === DocumentIndexedEvent.type && m.key === doc.documentId,
        180_000,
        `DocumentIndexed for ${doc.documentId}`,
      );
    }
  });

  afterAll(() => pipeline.stop());
  afterEach(() => dumpOutputOnFailure(pipeline));

  /** Waits until the auditor's review queue lists the request (the auditor records asynchronously). */
  async function waitForReview(requestId: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(`${pipeline.auditorUrl}/v1/reviews`, {
        headers: { 'x-api-key': pipeline.apiKey },
      });
      const body = (await response.json()) as { reviews?: { requestId: string }[] };
      if (body.reviews?.some((r) => r.requestId === requestId)) return;
      if (Date.now() > deadline) throw new Error(`the review queue never listed ${requestId}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Completes a request, approving it through the auditor's review API if the validator escalated it. */
  async function completion(requestId: string): Promise<TappedMessage> {
    const first = await pipeline.tap.waitFor(
      (m) =>
        m.key === requestId &&
        (m.headers['ce_type'] === ReviewRequestedEvent.type ||
          m.headers['ce_type'] === RequestCompletedEvent.type),
      300_000,
      `outcome of ${requestId}`,
    );
    if (first.headers['ce_type'] === ReviewRequestedEvent.type) {
      // A reviewer decides what the review queue shows: wait until the auditor has recorded it.
      await waitForReview(requestId);
      const response = await fetch(`${pipeline.auditorUrl}/v1/reviews/${requestId}/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': pipeline.apiKey },
        body: JSON.stringify({ decision: 'approve', comment: 'approved by the e2e test' }),
      });
      expect(response.status).toBeLessThan(300);
    }
    return pipeline.tap.waitFor(
      resultFor(requestId, RequestCompletedEvent.type),
      120_000,
      `RequestCompleted for ${requestId}`,
    );
  }

  it('completes a ticket published with a plain Kafka producer, with the full trail in PostgreSQL', async () => {
    const requestId = `ticket-${randomBytes(4).toString('hex')}`;
    await submit(ticket(requestId), requestId);
    const completed = await completion(requestId);
    const data = completed.json!;
    expect(completed.headers['ce_tenantid']).toBe(TENANT);
    expect(completed.headers['ce_correlationid']).toBe(requestId);
    // The newest version handles tickets: v2, classified by the router (see support-ticket-v2-kafka.test.ts).
    expect(data['workflow']).toEqual({ id: 'support-ticket', version: 2 });
    const output = data['output'] as Record<string, unknown>;
    expect(['billing', 'technical', 'account', 'other']).toContain(output['category']);
    expect(typeof output['reply']).toBe('string');
    expect(data['usage']).toMatchObject({ provider: 'local', modelId: expect.stringContaining('gemma') });

    // The auditor records asynchronously: wait for the completion to reach the trail.
    const deadline = Date.now() + 60_000;
    let types: string[] = [];
    while (Date.now() < deadline) {
      const rows = await pipeline.db.query<{ type: string; tenant_id: string }>(
        'SELECT type, tenant_id FROM audit_events WHERE correlation_id = $1 ORDER BY event_time, seq',
        [requestId],
      );
      types = rows.rows.map((r) => r.type);
      if (types.includes(RequestCompletedEvent.type)) {
        expect(new Set(rows.rows.map((r) => r.tenant_id))).toEqual(new Set([TENANT]));
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(types).toEqual(
      expect.arrayContaining([
        'llmbus.request.submitted',
        'llmbus.request.routed',
        'llmbus.context.retrieved',
        'llmbus.response.generated',
        'llmbus.request.completed',
      ]),
    );
    expect(types[0]).toBe('llmbus.request.submitted');
    const retrieved = await pipeline.db.query<{ payload: { passages: { collection: string }[] } }>(
      "SELECT payload FROM audit_events WHERE correlation_id = $1 AND type = 'llmbus.context.retrieved'",
      [requestId],
    );
    expect(retrieved.rows[0].payload.passages.length).toBeGreaterThan(0);
  });

  describe('bad input ends in a dead-letter record and a RequestFailed, and the pipeline keeps serving', () => {
    async function expectRejected(requestId: string, code: string, message: RegExp) {
      const failed = await pipeline.tap.waitFor(
        resultFor(requestId, RequestFailedEvent.type),
        60_000,
        `RequestFailed for ${requestId}`,
      );
      expect(failed.json).toMatchObject({ requestId, code, stage: 'router' });
      expect(String(failed.json!['message'])).toMatch(message);
      const dead = await pipeline.tap.waitFor(
        (m) => m.topic === topic(DeadLetterTopics.router.name) && m.json?.['correlationId'] === requestId,
        60_000,
        `dead letter for ${requestId}`,
      );
      expect(dead.json).toMatchObject({
        reasonCode: code,
        stage: 'router',
        originalTopic: topic(Topics.Request.name),
      });
      return failed;
    }

    it('a value that is not JSON', async () => {
      await send(
        Topics.Request.name,
        'bad-json',
        ceHeaders(RequestSubmittedEvent.type, 'bad-json', TENANT),
        '{"requestId": "bad-json", ',
      );
      await expectRejected('bad-json', 'invalid_event', /not valid JSON/);
    });

    it('a missing field and a wrong-typed field, each named', async () => {
      const { input: _dropped, ...noInput } = ticket('bad-fields');
      await submit({ ...noInput, requester: { groups: 'everyone' } }, 'bad-fields');
      const failed = await expectRejected('bad-fields', 'invalid_payload', /input: .*requester\.groups: /s);
      expect(failed.json!['details']).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^input: /),
          expect.stringMatching(/^requester\.groups: /),
        ]),
      );
    });

    it('an unknown event type', async () => {
      await send(
        Topics.Request.name,
        'bad-type',
        ceHeaders('llmbus.request.teleported', 'bad-type', TENANT),
        JSON.stringify(ticket('bad-type')),
      );
      await expectRejected(
        'bad-type',
        'unknown_event_type',
        /llmbus\.request\.teleported.*expected one of: llmbus\.request\.submitted/,
      );
    });

    it('an unknown workflow', async () => {
      await submit(ticket('bad-workflow', { workflow: 'time-travel' }), 'bad-workflow');
      await expectRejected('bad-workflow', 'unknown_workflow', /time-travel.*support-ticket/);
    });

    it('an oversize message', async () => {
      const huge = ticket('bad-size', {
        input: { subject: 'big', body: 'x'.repeat(MAX_EVENT_BYTES + 1000) },
      });
      await submit(huge, 'bad-size');
      await expectRejected('bad-size', 'oversize', new RegExp(`limit is ${MAX_EVENT_BYTES} bytes`));
    });

    it('a missing tenant', async () => {
      await send(
        Topics.Request.name,
        'bad-tenant',
        ceHeaders(RequestSubmittedEvent.type, 'bad-tenant', null),
        JSON.stringify(ticket('bad-tenant')),
      );
      const failed = await expectRejected('bad-tenant', 'missing_tenant', /ce_tenantid/);
      expect(failed.headers['ce_tenantid']).toBe('_none');
    });

    it('then still completes the next valid request', async () => {
      const requestId = `after-bad-${randomBytes(4).toString('hex')}`;
      await submit(ticket(requestId), requestId);
      const completed = await completion(requestId);
      expect(completed.json!['requestId']).toBe(requestId);
    });
  });
});
