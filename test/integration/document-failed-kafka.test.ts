// A document system drives ingestion through Kafka with a plain producer: a DocumentSubmitted the
// retriever refuses (an invalid payload refused by the decoder, a document with no text refused by
// its handler) must come back as DocumentFailed on documents.indexed.v1, where the document system
// listens, and never as a RequestFailed on the result topic.
import { randomBytes, randomUUID } from 'node:crypto';
import { EventBus, KafkaTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  DeadLetteredEvent,
  DeadLetterTopics,
  DocumentFailedEvent,
  DocumentSubmittedEvent,
  TOPICS,
  Topics,
  validatePayload,
} from '@llmbus/contracts';
import { HashedBagOfWordsEmbedder, PgliteVectorStore } from '@llmbus/retrieval';
import { startRetriever } from '@llmbus/svc-retriever';
import { Admin, Kafka, logLevel, Producer } from 'kafkajs';
import pino from 'pino';
import { kafkaBrokers, uniquePrefix } from '../support/env';
import { ensureTopics } from '../support/kafka-topics';
import { TopicTap } from '../support/topic-tap';

jest.setTimeout(180_000);
const logger = pino({ level: 'warn' });

describe('refused documents on Kafka are reported on documents.indexed.v1', () => {
  const brokers = kafkaBrokers();
  const prefix = uniquePrefix('document-failed');
  let bus: EventBus;
  let app: StageApp;
  let vectorStore: PgliteVectorStore;
  let tap: TopicTap;
  let producer: Producer;
  let admin: Admin;

  beforeAll(async () => {
    await ensureTopics(
      brokers,
      TOPICS.map((t) => ({ ...t, name: prefix + t.name })),
    );
    bus = new EventBus(
      new KafkaTransport({ brokers, clientId: `${prefix}retriever`, logger, sessionTimeoutMs: 10_000 }),
      { logger, topicPrefix: prefix, retryDelayMs: 10 },
    );
    vectorStore = await PgliteVectorStore.open();
    const config = loadPlatformConfig(
      {},
      { mode: 'embedded', httpPort: 0, clientId: 'document-failed-test' },
    );
    app = await startRetriever({
      bus,
      config,
      logger,
      embedder: new HashedBagOfWordsEmbedder(512, 'test-bow'),
      vectorStore,
    });
    tap = new TopicTap(
      brokers,
      [Topics.DocumentIndexed, Topics.Result, DeadLetterTopics.retriever].map((t) => prefix + t.name),
      `${prefix}tap`,
    );
    await tap.start();
    const kafka = new Kafka({ brokers, clientId: `${prefix}dms`, logLevel: logLevel.NOTHING });
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await tap?.stop();
    await app?.close();
    await bus?.close();
    await vectorStore?.close();
    await admin?.deleteTopics({ topics: TOPICS.map((t) => prefix + t.name) }).catch(() => undefined);
    await admin?.disconnect();
  });

  /** Sends a DocumentSubmitted in CloudEvents binary mode, as a document system would. */
  const submit = (documentId: string, payload: Record<string, unknown>) =>
    producer.send({
      topic: prefix + Topics.DocumentIngest.name,
      acks: -1,
      messages: [
        {
          key: documentId,
          headers: {
            ce_id: randomUUID(),
            ce_source: '/dms',
            ce_type: DocumentSubmittedEvent.type,
            ce_specversion: '1.0',
            ce_time: new Date().toISOString(),
            ce_correlationid: documentId,
            ce_tenantid: 'acme',
            ce_schemaversion: '1',
            'content-type': 'application/json',
          },
          value: JSON.stringify(payload),
        },
      ],
    });

  const document = (documentId: string, extra: Record<string, unknown>) => ({
    documentId,
    collection: 'policies',
    title: 'Travel policy',
    sourceUri: 'file:///policies/travel',
    contentType: 'text/plain',
    content: 'Economy class for flights under six hours.',
    aclGroups: [],
    version: 1,
    ...extra,
  });

  /** The DocumentFailed a document system sees for `documentId`, validated against its contract. */
  const documentFailed = async (documentId: string) => {
    const seen = await tap.waitFor(
      (m) =>
        m.topic === prefix + Topics.DocumentIndexed.name &&
        m.key === documentId &&
        m.headers['ce_type'] === DocumentFailedEvent.type,
      90_000,
      `DocumentFailed for ${documentId}`,
    );
    expect(validatePayload(DocumentFailedEvent, seen.json).ok).toBe(true);
    expect(seen.headers['ce_tenantid']).toBe('acme');
    return seen.json!;
  };

  it('answers an unsupported media type and a document with no text with DocumentFailed, and nothing on the result topic', async () => {
    const run = randomBytes(3).toString('hex');
    const pdf = `travel-pdf-${run}`;
    const empty = `travel-empty-${run}`;
    await submit(pdf, document(pdf, { contentType: 'application/pdf' }));
    await submit(empty, document(empty, { content: ' \n\n ' }));

    expect(await documentFailed(pdf)).toEqual({
      documentId: pdf,
      collection: 'policies',
      code: 'invalid_payload',
      message: expect.stringContaining('contentType'),
      stage: 'retriever',
      details: [expect.stringContaining('contentType')],
    });
    expect(await documentFailed(empty)).toEqual({
      documentId: empty,
      collection: 'policies',
      code: 'invalid_payload',
      message: expect.stringContaining('has no text to index'),
      stage: 'retriever',
      details: [expect.stringMatching(/^content: no text to index/)],
    });
    // The dead letter is unchanged: each refused message is kept there.
    for (const id of [pdf, empty]) {
      await tap.waitFor(
        (m) =>
          m.topic === prefix + DeadLetterTopics.retriever.name &&
          m.headers['ce_type'] === DeadLetteredEvent.type &&
          m.json?.['originalKey'] === id,
        90_000,
        `DeadLettered for ${id}`,
      );
    }
    // Once the retriever committed both messages, everything their refusal produced is on the
    // broker (outputs are published before the commit): the result topic must still be empty.
    const transport = bus.transport as KafkaTransport;
    const ingest = prefix + Topics.DocumentIngest.name;
    const deadline = Date.now() + 60_000;
    const lagOf = async () =>
      (await transport.lag(`${prefix}llmbus.retriever`, [ingest])).reduce((n, p) => n + p.lag, 0);
    while ((await lagOf()) !== 0) {
      if (Date.now() > deadline) throw new Error(`the retriever did not commit ${ingest} within 60000 ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const resultOffsets = await admin.fetchTopicOffsets(prefix + Topics.Result.name);
    expect(resultOffsets.map((p) => Number(p.high))).toEqual(resultOffsets.map(() => 0));
    expect(tap.messages.filter((m) => m.topic === prefix + Topics.Result.name)).toEqual([]);
  });
  it('refuses bad supersession metadata from Kafka with DocumentFailed naming the field: its own id, a cycle, bad ids, oversize metadata, a day no calendar has', async () => {
    const run = randomBytes(3).toString('hex');
    const self = `policy-self-${run}`;
    const a = `policy-a-${run}`;
    const b = `policy-b-${run}`;
    const badId = `policy-bad-id-${run}`;
    const notList = `policy-not-list-${run}`;
    const huge = `policy-huge-${run}`;
    const impossibleDay = `policy-feb-31-${run}`;
    await submit(self, document(self, { supersedes: [self] }));
    await submit(a, document(a, { supersedes: [b] }));
    await tap.waitFor(
      (m) => m.topic === prefix + Topics.DocumentIndexed.name && m.key === a,
      90_000,
      `outcome of ${a}`,
    );
    await submit(b, document(b, { supersedes: [a] }));
    await submit(badId, document(badId, { supersedes: ['not an id!'] }));
    await submit(notList, document(notList, { supersedes: 'policy-2023' }));
    await submit(impossibleDay, document(impossibleDay, { effectiveDate: '2023-02-31' }));
    await submit(
      huge,
      document(huge, {
        title: 't'.repeat(501),
        versionLabel: 'v'.repeat(101),
        aclGroups: Array(101).fill('g'),
      }),
    );

    expect(await documentFailed(self)).toMatchObject({
      code: 'invalid_payload',
      message: expect.stringContaining('supersedes itself'),
      details: [expect.stringMatching(/^supersedes\[0\]/)],
    });
    expect(await documentFailed(b)).toMatchObject({
      code: 'invalid_payload',
      message: expect.stringContaining(`${b} → ${a} → ${b}`),
      details: [expect.stringMatching(/^supersedes\[0\]/)],
    });
    expect(await documentFailed(badId)).toMatchObject({
      code: 'invalid_payload',
      details: [expect.stringContaining('supersedes')],
    });
    expect(await documentFailed(notList)).toMatchObject({
      code: 'invalid_payload',
      details: expect.arrayContaining([expect.stringContaining('supersedes')]),
    });
    expect(await documentFailed(impossibleDay)).toMatchObject({
      code: 'invalid_payload',
      details: [expect.stringContaining('effectiveDate must be a day of the calendar')],
    });
    const oversize = await documentFailed(huge);
    expect(oversize.code).toBe('invalid_payload');
    for (const field of ['title', 'versionLabel', 'aclGroups'])
      expect(oversize.details).toEqual(expect.arrayContaining([expect.stringContaining(field)]));
  });
});
