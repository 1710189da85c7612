// The five stages on a real Kafka broker and the audit store on a real PostgreSQL, driven by a
// plain kafkajs producer as an upstream system drives them: events that share a CloudEvents id
// but not the source or tenant, and events in structured content mode, each end in an outcome
// and a trail of their own. The chat model is scripted (the fault is the bus's, not the model's).
import { randomBytes, randomUUID } from 'node:crypto';
import { PostgresAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  ContextRetrievedEvent,
  DeadLetterTopics,
  ModelCallRecordedEvent,
  RequestCompletedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  TOPICS,
  Topics,
} from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import { HashedBagOfWordsEmbedder, PgliteVectorStore } from '@llmbus/retrieval';
import { startAuditor } from '@llmbus/svc-auditor';
import { startGenerator } from '@llmbus/svc-generator';
import { startRetriever } from '@llmbus/svc-retriever';
import { startRouter } from '@llmbus/svc-router';
import { startValidator } from '@llmbus/svc-validator';
import { WorkflowRegistry } from '@llmbus/workflows';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { Client } from 'pg';
import pino from 'pino';
import { register } from 'prom-client';
import request from 'supertest';
import { databaseUrl, kafkaBrokers, uniquePrefix } from '../support/env';
import { KAFKA_CLIENTS } from '../support/kafka-clients';
import { ensureTopics } from '../support/kafka-topics';
import { TopicTap } from '../support/topic-tap';

jest.setTimeout(180_000);
const logger = pino({ level: 'warn' });

const ticket = (requestId: string) => ({
  requestId,
  eventType: 'ticket.created',
  input: { subject: 'Cannot log in', body: 'The reset mail never arrives.', priority: 'normal' },
  requester: { groups: [] },
});

/** What the scripted model answers every call with: a valid, confident draft citing nothing. */
const draft = {
  category: 'account',
  priority: 'normal',
  reply: 'Please check your spam folder and request a new reset link.',
  citations: [],
  needsHuman: false,
  confidence: 0.9,
};

/** The event types every completed request's trail holds once each, in this order. */
const TRAIL = [
  RequestSubmittedEvent.type,
  RequestRoutedEvent.type,
  ContextRetrievedEvent.type,
  // The generator records each billed model call as soon as it returns, before its output.
  ModelCallRecordedEvent.type,
  ResponseGeneratedEvent.type,
  RequestCompletedEvent.type,
];

describe.each(KAFKA_CLIENTS)(
  'event identity and content modes on Kafka (%s): five stages and the audit store',
  (_client, kafkaTransport) => {
    const brokers = kafkaBrokers();
    const prefix = uniquePrefix('event-identity');
    const schema = `audit_test_${randomBytes(8).toString('hex')}`;
    const model = new ScriptedModelProvider({ modelId: 'scripted/chat' });
    const apps: StageApp[] = [];
    let bus: EventBus;
    let auditStore: PostgresAuditStore;
    let vectorStore: PgliteVectorStore;
    let tap: TopicTap;
    let producer: Producer;
    let apiKey: string;
    let workflows: WorkflowRegistry;
    let config: ReturnType<typeof loadPlatformConfig>;

    beforeAll(async () => {
      await ensureTopics(
        brokers,
        TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
      );
      bus = new EventBus(
        kafkaTransport({ brokers, clientId: `${prefix}stages`, logger, sessionTimeoutMs: 10_000 }),
        { logger, topicPrefix: prefix, retryDelayMs: 10 },
      );
      auditStore = await PostgresAuditStore.open({
        connectionString: databaseUrl(),
        schema,
        maxConnections: 3,
      });
      vectorStore = await PgliteVectorStore.open();
      apiKey = `identity-test-key-${randomBytes(6).toString('hex')}`;
      config = loadPlatformConfig(
        { API_KEYS: `${apiKey}:acme:admin`, HTTP_PORT: '0' },
        { mode: 'embedded', httpPort: 0, clientId: 'event-identity-test' },
      );
      const apiKeys = config.apiKeys!;
      for (let i = 0; i < 20; i++) model.enqueueChat(() => ({ json: draft }));
      apps.push(await startAuditor({ bus, config, logger, store: auditStore }));
      apps.push(
        await startRetriever({
          bus,
          config,
          logger,
          embedder: new HashedBagOfWordsEmbedder(512, 'test-bow'),
          vectorStore,
        }),
      );
      apps.push(await startGenerator({ bus, config, logger, models: model }));
      // The vector store is empty, so the draft can be grounded in nothing and evidence-based
      // confidence would send it to review; this suite is about event identity, not answer quality,
      // so its validator accepts every output without violations (no confidence thresholds).
      const shipped = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
      workflows = new WorkflowRegistry([
        { ...shipped, validation: { ...shipped.validation, confidence: undefined } },
      ]);
      apps.push(await startValidator({ bus, config, logger, workflows }));
      apps.push(
        await startRouter({
          bus,
          config,
          logger,
          apiKeys,
          httpPort: 0,
          statusStore: auditStore,
          // The same v1-only workflows as the validator: this suite is about event identity.
          workflows,
        }),
      );
      tap = new TopicTap(
        brokers,
        [prefix + Topics.Result.name, prefix + DeadLetterTopics.router.name],
        `${prefix}tap`,
      );
      await tap.start();
      producer = new Kafka({ brokers, clientId: `${prefix}upstream`, logLevel: logLevel.NOTHING }).producer({
        idempotent: true,
      });
      await producer.connect();
    });

    afterAll(async () => {
      await producer?.disconnect();
      await tap?.stop();
      for (const app of apps.reverse()) await app.close();
      await bus?.close();
      await auditStore?.close();
      await vectorStore?.close();
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
      await admin.disconnect();
      const db = new Client({ connectionString: databaseUrl() });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await db.end();
    });

    const send = (key: string, headers: Record<string, string>, value: string) =>
      producer.send({ topic: prefix + Topics.Request.name, acks: -1, messages: [{ key, headers, value }] });

    /** Waits for the request's RequestCompleted on the result topic, as a downstream consumer sees it. */
    const completion = (tenant: string, requestId: string) =>
      tap.waitFor(
        (m) =>
          m.key === requestId &&
          m.headers['ce_tenantid'] === tenant &&
          m.headers['ce_type'] === RequestCompletedEvent.type,
        90_000,
        `RequestCompleted of ${tenant}/${requestId}`,
      );

    /** The request's trail once the auditor has recorded every step (it reads each topic at its own pace). */
    async function trailOf(tenant: string, requestId: string) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const trail = await auditStore.trail(tenant, requestId);
        if (TRAIL.every((type) => trail.some((r) => r.envelope.type === type))) return trail;
        if (Date.now() > deadline) {
          throw new Error(
            `trail of ${tenant}/${requestId} is incomplete: ${trail.map((r) => r.envelope.type)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('gives three requests that share a ce_id but not the source or tenant an outcome and a trail each', async () => {
      const ceId = randomUUID();
      const shared = `req-${randomBytes(4).toString('hex')}`;
      const other = `${shared}-b`;
      const sent = [
        { tenant: 'acme', source: '/upstream/helpdesk', requestId: shared },
        { tenant: 'acme', source: '/upstream/crm', requestId: other },
        // Another tenant, the same source, event id and even request id.
        { tenant: 'globex', source: '/upstream/helpdesk', requestId: shared },
      ];
      for (const { tenant, source, requestId } of sent) {
        await send(
          requestId,
          {
            'content-type': 'application/json',
            ce_id: ceId,
            ce_source: source,
            ce_type: RequestSubmittedEvent.type,
            ce_specversion: '1.0',
            ce_time: new Date().toISOString(),
            ce_correlationid: requestId,
            ce_tenantid: tenant,
            ce_schemaversion: '1',
          },
          JSON.stringify(ticket(requestId)),
        );
      }
      const outcomes = await Promise.all(sent.map((s) => completion(s.tenant, s.requestId)));
      expect(new Set(outcomes.map((m) => m.headers['ce_id'])).size).toBe(3);
      for (const { tenant, source, requestId } of sent) {
        const trail = await trailOf(tenant, requestId);
        expect(trail.map((r) => r.envelope.type)).toEqual(TRAIL);
        expect(trail[0].envelope).toMatchObject({ id: ceId, source, tenantid: tenant });
        expect(
          trail.every((r) => r.envelope.tenantid === tenant && r.envelope.correlationid === requestId),
        ).toBe(true);
      }
    });

    it('completes a request sent in structured content mode with a plain Kafka producer', async () => {
      const requestId = `structured-${randomBytes(4).toString('hex')}`;
      const event = {
        specversion: '1.0',
        id: randomUUID(),
        source: '/upstream/cloudevents-sdk',
        type: RequestSubmittedEvent.type,
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        tenantid: 'acme',
        correlationid: requestId,
        schemaversion: 1,
        data: ticket(requestId),
      };
      await send(
        requestId,
        { 'content-type': 'application/cloudevents+json; charset=UTF-8' },
        JSON.stringify(event),
      );
      const completed = await completion('acme', requestId);
      expect(completed.json).toMatchObject({ requestId, output: { category: 'account' } });
      const trail = await trailOf('acme', requestId);
      expect(trail.map((r) => r.envelope.type)).toEqual(TRAIL);
      expect(trail[0].envelope).toMatchObject({
        id: event.id,
        source: event.source,
        data: ticket(requestId),
      });
    });

    it('refuses a requestId reused with another body (409) on a replica that shares only the audit store', async () => {
      const router = apps[apps.length - 1];
      const requestId = `reused-${randomBytes(4).toString('hex')}`;
      // An e-mail address in the input: the auditor stores the payload masked, the digest as sent.
      const body = {
        requestId,
        eventType: 'ticket.created',
        input: { subject: 'Cannot log in', body: 'Mail me at jane.doe@example.com', priority: 'normal' },
      };
      await request(router.url!).post('/v1/requests').set('X-Api-Key', apiKey).send(body).expect(202);
      const deadline = Date.now() + 60_000;
      while (
        !(await auditStore.trail('acme', requestId)).some(
          (r) => r.envelope.type === RequestSubmittedEvent.type,
        )
      ) {
        if (Date.now() > deadline)
          throw new Error(`the auditor did not record ${requestId}'s RequestSubmitted`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Another replica: its own (in-process) bus and no memory of the first POST, the same audit store.
      const replicaBus = new EventBus(new InMemoryTransport(), { logger });
      const replica = await startRouter({
        bus: replicaBus,
        config,
        logger,
        apiKeys: config.apiKeys!,
        httpPort: 0,
        statusStore: auditStore,
        workflows,
      });
      try {
        const changed = { ...body, input: { ...body.input, subject: 'Still cannot log in' } };
        const conflict = await request(replica.url!)
          .post('/v1/requests')
          .set('X-Api-Key', apiKey)
          .send(changed)
          .expect(409);
        expect(conflict.body).toMatchObject({ statusCode: 409, error: 'request_id_conflict', requestId });
        await request(replica.url!).post('/v1/requests').set('X-Api-Key', apiKey).send(body).expect(202);
      } finally {
        await replica.close();
        await replicaBus.close();
      }
    });

    describe('a request id produced again under a new ce_id', () => {
      const headersOf = (requestId: string, ceId: string) => ({
        'content-type': 'application/json',
        ce_id: ceId,
        ce_source: '/upstream/helpdesk',
        ce_type: RequestSubmittedEvent.type,
        ce_specversion: '1.0',
        ce_time: new Date().toISOString(),
        ce_correlationid: requestId,
        ce_tenantid: 'acme',
        ce_schemaversion: '1',
      });

      /** The router's count of reused request ids (this process's registry), by outcome. */
      async function reuses(outcome: 'duplicate' | 'conflict'): Promise<number> {
        const metric = register.getSingleMetric('orchestrator_request_id_reuse_total');
        const values = metric === undefined ? [] : (await metric.get()).values;
        return values
          .filter((v) => v.labels['tenant'] === 'acme' && v.labels['outcome'] === outcome)
          .reduce((sum, v) => sum + v.value, 0);
      }

      /** Waits until the router counted `count` reuses, or `settled` says the outcome is already visible. */
      async function reusesReach(
        outcome: 'duplicate' | 'conflict',
        count: number,
        settled: () => boolean = () => false,
      ): Promise<void> {
        const deadline = Date.now() + 60_000;
        while ((await reuses(outcome)) < count && !settled()) {
          if (Date.now() > deadline) throw new Error(`the router did not count ${count} ${outcome}(s)`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }

      const resultsOf = (requestId: string) =>
        tap.messages.filter((m) => m.topic === prefix + Topics.Result.name && m.key === requestId);

      it('runs the same body once: one model call, one outcome', async () => {
        const requestId = `retried-${randomBytes(4).toString('hex')}`;
        const calls = model.chatCalls.length;
        const duplicates = await reuses('duplicate');
        const value = JSON.stringify(ticket(requestId));
        await send(requestId, headersOf(requestId, randomUUID()), value);
        await completion('acme', requestId);
        // The upstream system retries after a timeout, with a fresh event id and the same body.
        await send(requestId, headersOf(requestId, randomUUID()), value);
        // Or a second outcome, which is what a router without the check publishes.
        await reusesReach('duplicate', duplicates + 1, () => resultsOf(requestId).length > 1);
        // The router published nothing for the duplicate, so nothing more can follow it.
        expect(model.chatCalls.length - calls).toBe(1);
        expect(resultsOf(requestId).map((m) => m.headers['ce_type'])).toEqual([RequestCompletedEvent.type]);
        const trail = await trailOf('acme', requestId);
        const count = (type: string) => trail.filter((r) => r.envelope.type === type).length;
        expect(count(RequestRoutedEvent.type)).toBe(1);
        expect(count(ModelCallRecordedEvent.type)).toBe(1);
        expect(count(RequestCompletedEvent.type)).toBe(1);
      });

      it('dead-letters another body under the id, leaving the first request and its outcome alone', async () => {
        const requestId = `reused-kafka-${randomBytes(4).toString('hex')}`;
        const calls = model.chatCalls.length;
        const conflicts = await reuses('conflict');
        const firstId = randomUUID();
        await send(requestId, headersOf(requestId, firstId), JSON.stringify(ticket(requestId)));
        const completed = await completion('acme', requestId);
        const secondId = randomUUID();
        const other = {
          ...ticket(requestId),
          input: { ...ticket(requestId).input, subject: 'Printer on fire' },
        };
        await send(requestId, headersOf(requestId, secondId), JSON.stringify(other));
        const dead = await tap.waitFor(
          (m) => m.topic === prefix + DeadLetterTopics.router.name && m.json?.['correlationId'] === requestId,
          60_000,
          `the router's dead letter of ${requestId}`,
        );
        expect(dead.json).toMatchObject({
          reasonCode: 'request_id_conflict',
          reason: `request id "${requestId}" was already used for another request; use a new request id`,
          originalHeaders: { ce_id: secondId },
        });
        expect(dead.json?.['errors']).toEqual(expect.arrayContaining([`earlier ce_id: ${firstId}`]));
        expect(await reuses('conflict')).toBe(conflicts + 1);
        expect(model.chatCalls.length - calls).toBe(1);
        // No RequestFailed keyed by the id: the first request's outcome is the only one.
        expect(resultsOf(requestId).map((m) => m.headers['ce_id'])).toEqual([completed.headers['ce_id']]);
        // Once the auditor has recorded the whole run (it reads each topic at its own pace).
        const trail = await trailOf('acme', requestId);
        expect(trail.filter((r) => r.envelope.type === RequestRoutedEvent.type)).toHaveLength(1);
        expect(await auditStore.requestStatus('acme', requestId)).toMatchObject({ status: 'completed' });
      });
    });
  },
);
