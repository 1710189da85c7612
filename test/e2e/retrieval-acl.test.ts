// Permission filters through the whole pipeline: five service processes on a real Kafka broker,
// documents of two tenants (one restricted to a group) submitted over Kafka, tickets submitted over
// Kafka, and the ContextRetrieved events read from `orchestration.retrieved.v1` as a downstream
// consumer sees them. A user must never receive a passage of another tenant or outside their groups.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestSubmittedEvent,
  TOPICS,
  Topics,
  type ContextRetrieved,
  type DocumentSubmitted,
} from '@llmbus/contracts';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { Client } from 'pg';
import { databaseUrl, kafkaBrokers, uniquePrefix } from '../support/env';
import { ensureTopics } from '../support/kafka-topics';
import { freePort, ServiceProcess, startService, stopService } from '../support/service-processes';
import { TopicTap } from '../support/topic-tap';

jest.setTimeout(600_000);

const TENANT_A = 'acl-a';
const TENANT_B = 'acl-b';
const API_KEY = `e2e-acl-${randomBytes(12).toString('hex')}`;

function ceHeaders(type: string, correlationId: string, tenant: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    ce_id: randomUUID(),
    ce_source: '/upstream/e2e-acl',
    ce_type: type,
    ce_specversion: '1.0',
    ce_time: new Date().toISOString(),
    ce_correlationid: correlationId,
    ce_tenantid: tenant,
    ce_schemaversion: '1',
  };
}

// All three documents answer the same question, so only the filters can keep one from a user.
const DOCUMENTS: { tenant: string; doc: DocumentSubmitted }[] = [
  {
    tenant: TENANT_A,
    doc: docOf(
      'sync-reset-public',
      'Acme Sync password reset',
      'To reset your Acme Sync password open Settings, choose Security and press Reset password; the reset email arrives within five minutes.',
      [],
    ),
  },
  {
    tenant: TENANT_A,
    doc: docOf(
      'sync-reset-finance',
      'Acme Sync password reset for finance accounts',
      'Finance accounts reset their Acme Sync password only through the treasury desk, because reset emails to finance mailboxes are blocked.',
      ['finance'],
    ),
  },
  {
    tenant: TENANT_B,
    doc: docOf(
      'sync-reset-tenant-b',
      'Acme Sync password reset at Tenant B',
      'Tenant B staff reset the Acme Sync password through the Tenant B identity portal; reset emails are disabled at Tenant B.',
      [],
    ),
  },
];

function docOf(documentId: string, title: string, text: string, aclGroups: string[]): DocumentSubmitted {
  return {
    documentId,
    collection: 'product-docs',
    title,
    sourceUri: `https://docs.example/${documentId}`,
    contentType: 'text/markdown',
    content: `# ${title}\n\n${text}\n`,
    aclGroups,
    version: 1,
  };
}

describe('retrieval permissions through the Kafka pipeline', () => {
  const brokers = kafkaBrokers();
  const prefix = uniquePrefix('e2e-retrieval-acl');
  const dbName = `llmbus_e2e_acl_${randomBytes(4).toString('hex')}`;
  const topic = (name: string) => prefix + name;
  let services: ServiceProcess[] = [];
  let tap: TopicTap;
  let producer: Producer;

  async function ask(tenant: string, groups: string[]): Promise<ContextRetrieved> {
    const requestId = `acl-${randomBytes(4).toString('hex')}`;
    const payload = {
      requestId,
      eventType: 'ticket.created',
      input: {
        subject: 'Password reset email never arrives',
        body: 'How do I reset my Acme Sync password? The reset email never arrives.',
        product: 'Acme Sync',
      },
      requester: { userId: `user-${groups.join('-') || 'none'}`, groups },
    };
    await producer.send({
      topic: topic(Topics.Request.name),
      acks: -1,
      messages: [
        {
          key: requestId,
          headers: ceHeaders(RequestSubmittedEvent.type, requestId, tenant),
          value: JSON.stringify(payload),
        },
      ],
    });
    const message = await tap.waitFor(
      (m) => m.topic === topic(Topics.Retrieved.name) && m.key === requestId,
      180_000,
      `ContextRetrieved for ${requestId}`,
    );
    expect(message.headers['ce_tenantid']).toBe(tenant);
    return message.json as unknown as ContextRetrieved;
  }

  beforeAll(async () => {
    await ensureTopics(
      brokers,
      TOPICS.map((t) => ({ ...t, name: topic(t.name) })),
    );
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(databaseUrl());
    url.pathname = `/${dbName}`;
    const env = {
      LLMBUS_MODE: 'distributed',
      KAFKA_BROKERS: brokers.join(','),
      LLMBUS_TOPIC_PREFIX: prefix,
      KAFKA_SESSION_TIMEOUT_MS: '15000',
      LLMBUS_RETRY_DELAY_MS: '50',
      API_KEYS: `${API_KEY}:${TENANT_A}:admin`,
      DATABASE_URL: url.toString(),
      LLMBUS_DATA_DIR: '',
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    };
    for (const [name, port] of [
      ['auditor', await freePort()],
      ['retriever', 0],
      ['generator', 0],
      ['validator', 0],
      ['router', await freePort()],
    ] as const) {
      services.push(
        await startService(name, { ...env, HTTP_PORT: String(port), KAFKA_CLIENT_ID: `e2e-acl-${name}` }),
      );
    }
    tap = new TopicTap(
      brokers,
      [Topics.Retrieved.name, Topics.DocumentIndexed.name].map(topic),
      `${prefix}tap`,
    );
    await tap.start();
    producer = new Kafka({ brokers, clientId: 'e2e-acl-upstream', logLevel: logLevel.NOTHING }).producer({
      idempotent: true,
    });
    await producer.connect();
    for (const { tenant, doc } of DOCUMENTS) {
      await producer.send({
        topic: topic(Topics.DocumentIngest.name),
        acks: -1,
        messages: [
          {
            key: doc.documentId,
            headers: ceHeaders(DocumentSubmittedEvent.type, doc.documentId, tenant),
            value: JSON.stringify(doc),
          },
        ],
      });
    }
    for (const { tenant, doc } of DOCUMENTS) {
      await tap.waitFor(
        (m) =>
          m.headers['ce_type'] === DocumentIndexedEvent.type &&
          m.key === doc.documentId &&
          m.headers['ce_tenantid'] === tenant,
        180_000,
        `DocumentIndexed for ${tenant}/${doc.documentId}`,
      );
    }
  });

  afterAll(async () => {
    await tap?.stop();
    await producer?.disconnect();
    for (const service of [...services].reverse()) await stopService(service);
    services = [];
    const admin = new Client({ connectionString: databaseUrl() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    const kafkaAdmin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteTopics({ topics: TOPICS.map((t) => topic(t.name)) }).catch(() => undefined);
    await kafkaAdmin.disconnect();
  });

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls > 0 && state.numPassingAsserts < state.assertionCalls) {
      for (const s of services) process.stderr.write(`--- ${s.name} ---\n${s.output().slice(-3000)}\n`);
    }
  });

  it("gives a tenant user outside 'finance' only the public passage of their tenant, and counts the restricted one as withheld", async () => {
    const retrieved = await ask(TENANT_A, ['support']);
    expect(retrieved.passages.map((p) => p.documentId)).toEqual(['sync-reset-public']);
    expect(retrieved.withheldCount).toBe(1);
    expect(JSON.stringify(retrieved)).not.toMatch(/treasury|Tenant B/);
    expect(retrieved.passages[0]).toMatchObject({
      collection: 'product-docs',
      sourceUri: 'https://docs.example/sync-reset-public',
      sectionPath: 'Acme Sync password reset',
    });
  });

  it("gives a 'finance' member of the same tenant the restricted passage too, and nothing of the other tenant", async () => {
    const retrieved = await ask(TENANT_A, ['finance']);
    expect(retrieved.passages.map((p) => p.documentId).sort()).toEqual([
      'sync-reset-finance',
      'sync-reset-public',
    ]);
    expect(retrieved.withheldCount).toBe(0);
    expect(JSON.stringify(retrieved)).not.toMatch(/Tenant B/);
  });

  it("gives the other tenant's user, even in a group of the same name, only their tenant's passage", async () => {
    const retrieved = await ask(TENANT_B, ['finance']);
    expect(retrieved.passages.map((p) => p.documentId)).toEqual(['sync-reset-tenant-b']);
    expect(retrieved.withheldCount).toBe(0);
    expect(JSON.stringify(retrieved)).not.toMatch(/treasury|Settings, choose Security/);
  });
});
