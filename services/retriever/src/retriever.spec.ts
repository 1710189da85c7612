import { EventBus, InMemoryTransport, outgoing } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  ContextRetrieved,
  ContextRetrievedEvent,
  DocumentFailed,
  DocumentFailedEvent,
  DocumentIndexed,
  DocumentIndexedEvent,
  DocumentRemoved,
  DocumentRemovedEvent,
  DocumentSubmitted,
  DocumentSubmittedEvent,
  DocumentDeletedEvent,
  RequestFailedEvent,
  RequestRouted,
  RequestRoutedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import { HashedBagOfWordsEmbedder, PgliteVectorStore, vectorCollectionName } from '@llmbus/retrieval';
import pino from 'pino';
import { MemoryRetrievalCacheBackend, RetrievalCache, startRetriever } from './index';

const logger = pino({ level: 'silent' });

function document(documentId: string, content: string, aclGroups: string[] = []): DocumentSubmitted {
  return {
    documentId,
    collection: 'policies',
    title: `Policy ${documentId}`,
    sourceUri: `https://intranet.example/${documentId}`,
    contentType: 'text/markdown',
    content,
    aclGroups,
    version: 1,
  };
}

function routed(requestId: string, groups: string[], retrieval: RequestRouted['retrieval']): RequestRouted {
  return {
    requestId,
    context: {
      workflow: { id: 'knowledge-assistant', version: 1 },
      requester: { userId: 'u1', groups },
      modelTier: 'small',
      budget: { maxOutputTokens: 200, maxCostUsd: 0 },
    },
    input: { question: retrieval.query },
    retrieval,
  };
}

async function until<T>(find: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('retriever stage on the in-process bus', () => {
  let bus: EventBus;
  let app: StageApp;
  let store: PgliteVectorStore;
  let embedder: HashedBagOfWordsEmbedder;
  const indexed: EventEnvelope<DocumentIndexed>[] = [];
  const retrieved: EventEnvelope<ContextRetrieved>[] = [];
  const failed: EventEnvelope<object>[] = [];
  const removed: EventEnvelope<DocumentRemoved>[] = [];
  const documentFailures: EventEnvelope<DocumentFailed>[] = [];

  const indexedOf = (documentId: string, n = 1) =>
    until(() => {
      const matches = indexed.filter((e) => e.data.documentId === documentId);
      return matches.length >= n ? matches[n - 1] : undefined;
    }, `DocumentIndexed #${n} for ${documentId}`);
  const retrievedFor = (requestId: string) =>
    until(() => retrieved.find((e) => e.data.requestId === requestId), `ContextRetrieved for ${requestId}`);

  beforeAll(async () => {
    store = await PgliteVectorStore.open();
    embedder = new HashedBagOfWordsEmbedder(512, 'test-bow');
    bus = new EventBus(new InMemoryTransport(), { logger, retryDelayMs: 1 });
    await bus.subscribe({
      stage: 'auditor',
      groupId: 'test-collector',
      notifyRequester: false,
      handlers: {
        [DocumentIndexedEvent.type]: async (e) => (indexed.push(e as EventEnvelope<DocumentIndexed>), []),
        [ContextRetrievedEvent.type]: async (e) => (retrieved.push(e as EventEnvelope<ContextRetrieved>), []),
        [RequestFailedEvent.type]: async (e) => (failed.push(e), []),
        [DocumentRemovedEvent.type]: async (e) => (removed.push(e as EventEnvelope<DocumentRemoved>), []),
        [DocumentFailedEvent.type]: async (e) => (
          documentFailures.push(e as EventEnvelope<DocumentFailed>),
          []
        ),
      },
    });
    const config = loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 'test' });
    // With the retrieval cache, as RETRIEVAL_CACHE_TTL_MS wires it: the controller must get it injected.
    app = await startRetriever({
      bus,
      config,
      logger,
      embedder,
      vectorStore: store,
      retrievalCache: new RetrievalCache(new MemoryRetrievalCacheBackend(), 60_000),
    });

    await bus.publish([
      outgoing(
        DocumentSubmittedEvent,
        document(
          'remote-work',
          '# Remote work\nStaff may work remotely two days per week with manager approval.',
        ),
        { tenantId: 'acme' },
      ),
      outgoing(
        DocumentSubmittedEvent,
        document(
          'hr-remote-exceptions',
          '# Remote work exceptions\nHR approves remote work beyond two days per week for medical reasons.',
          ['hr'],
        ),
        { tenantId: 'acme' },
      ),
      outgoing(
        DocumentSubmittedEvent,
        document('globex-remote', '# Remote work\nGlobex staff work remotely every day of the week.'),
        { tenantId: 'globex' },
      ),
    ]);
    await Promise.all(['remote-work', 'hr-remote-exceptions', 'globex-remote'].map((id) => indexedOf(id)));
  });

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
  });

  it('indexes submitted documents and reports DocumentIndexed with counts and timing', async () => {
    const event = await indexedOf('remote-work');
    expect(event.tenantid).toBe('acme');
    expect(event.data).toMatchObject({
      documentId: 'remote-work',
      collection: 'policies',
      version: 1,
      chunkCount: 1,
      unchanged: false,
    });
    expect(event.data.durationMs).toBeGreaterThan(0);
    expect(failed).toEqual([]);
  });

  it('reports a re-submitted, unchanged document as unchanged without embedding it again', async () => {
    const callsBefore = embedder.calls.length;
    await bus.publish([
      outgoing(
        DocumentSubmittedEvent,
        document(
          'remote-work',
          '# Remote work\nStaff may work remotely two days per week with manager approval.',
        ),
        { tenantId: 'acme' },
      ),
    ]);
    const again = await indexedOf('remote-work', 2);
    expect(again.data).toMatchObject({ unchanged: true, chunkCount: 1 });
    expect(embedder.calls.length).toBe(callsBefore);
  });

  it('gives a tenant user outside "hr" only public passages of their tenant, and counts what was withheld', async () => {
    await bus.publish([
      outgoing(
        RequestRoutedEvent,
        routed('req-staff', ['staff'], {
          collections: ['policies'],
          topK: 5,
          query: 'how many days per week can I work remotely',
        }),
        { tenantId: 'acme' },
      ),
    ]);
    const event = await retrievedFor('req-staff');
    const { passages, withheldCount, usage, context, input } = event.data;
    expect(event.tenantid).toBe('acme');
    expect(passages.map((p) => p.documentId)).toEqual(['remote-work']);
    expect(passages[0]).toMatchObject({
      collection: 'policies',
      title: 'Policy remote-work',
      sourceUri: 'https://intranet.example/remote-work',
      chunkIndex: 0,
      text: 'Staff may work remotely two days per week with manager approval.',
    });
    expect(withheldCount).toBeGreaterThanOrEqual(1);
    expect(usage).toMatchObject({ modelId: 'test-bow', provider: 'test' });
    expect(context.requester.groups).toEqual(['staff']);
    expect(input).toEqual({ question: 'how many days per week can I work remotely' });
    expect(JSON.stringify(event.data)).not.toMatch(/Globex|medical/);
  });

  it('serves the same asker the same question from the retrieval cache, and another asker afresh', async () => {
    const plan = { collections: ['policies'], topK: 5, query: 'what is the policy on remote work days' };
    for (const [requestId, groups] of [
      ['req-cache-1', ['staff']],
      ['req-cache-2', ['staff']],
      ['req-cache-3', ['staff', 'hr']],
    ] as const) {
      await bus.publish([
        outgoing(RequestRoutedEvent, routed(requestId, [...groups], plan), { tenantId: 'acme' }),
      ]);
      await retrievedFor(requestId);
    }
    const [first, second, other] = await Promise.all(
      ['req-cache-1', 'req-cache-2', 'req-cache-3'].map((id) => retrievedFor(id)),
    );
    expect(first!.data.usage?.cached).toBeUndefined();
    expect(second!.data.usage).toMatchObject({ cached: true, costUsd: 0 });
    expect(second!.data.passages).toEqual(first!.data.passages);
    expect(other!.data.usage?.cached).toBeUndefined();
  });

  it('gives an "hr" member the restricted passages too, and never another tenant\'s', async () => {
    await bus.publish([
      outgoing(
        RequestRoutedEvent,
        routed('req-hr', ['hr'], { collections: ['policies'], topK: 5, query: 'remote work days per week' }),
        { tenantId: 'acme' },
      ),
    ]);
    const { data } = await retrievedFor('req-hr');
    expect(data.passages.map((p) => p.documentId).sort()).toEqual(['hr-remote-exceptions', 'remote-work']);
    expect(data.withheldCount).toBe(0);
  });

  it('answers an empty retrieval plan with no passages, without touching the embedder or the store', async () => {
    const search = jest.spyOn(store, 'search');
    const rank = jest.spyOn(store, 'rankIds');
    const callsBefore = embedder.calls.length;
    await bus.publish([
      outgoing(
        RequestRoutedEvent,
        routed('req-none', [], { collections: ['policies'], topK: 0, query: 'remote work' }),
        { tenantId: 'acme' },
      ),
      outgoing(
        RequestRoutedEvent,
        routed('req-no-collections', [], { collections: [], topK: 5, query: 'remote work' }),
        { tenantId: 'acme' },
      ),
    ]);
    for (const requestId of ['req-none', 'req-no-collections']) {
      const { data } = await retrievedFor(requestId);
      expect(data).toMatchObject({ passages: [], withheldCount: 0 });
      expect(data.usage).toBeUndefined();
    }
    expect(search).not.toHaveBeenCalled();
    expect(rank).not.toHaveBeenCalled();
    expect(embedder.calls.length).toBe(callsBefore);
    search.mockRestore();
    rank.mockRestore();
  });

  it("removes a deleted document's chunks in its tenant only, so it is no longer retrieved", async () => {
    const content = '# Parking\nParking permits are renewed every January at the front desk.';
    await bus.publish([
      outgoing(DocumentSubmittedEvent, document('parking', content), { tenantId: 'acme' }),
      outgoing(DocumentSubmittedEvent, document('parking', content), { tenantId: 'globex' }),
    ]);
    await until(
      () => (indexed.filter((e) => e.data.documentId === 'parking').length === 2 ? true : undefined),
      'both parking documents indexed',
    );
    const storeCollection = vectorCollectionName('test-bow', 512);
    expect(await store.count(storeCollection, { tenant: 'acme', documentId: 'parking' })).toBe(1);

    await bus.publish([
      outgoing(DocumentDeletedEvent, { documentId: 'parking', collection: 'policies' }, { tenantId: 'acme' }),
    ]);
    const outcome = await until(
      () => removed.find((e) => e.data.documentId === 'parking'),
      'DocumentRemoved for parking',
    );
    expect(outcome.tenantid).toBe('acme');
    expect(outcome.data).toEqual({ documentId: 'parking', collection: 'policies', removedChunks: 1 });
    expect(await store.count(storeCollection, { tenant: 'acme', documentId: 'parking' })).toBe(0);
    expect(await store.count(storeCollection, { tenant: 'globex', documentId: 'parking' })).toBe(1);

    await bus.publish([
      outgoing(
        RequestRoutedEvent,
        routed('req-parking-acme', [], {
          collections: ['policies'],
          topK: 5,
          query: 'parking permits renewed',
        }),
        { tenantId: 'acme' },
      ),
      outgoing(
        RequestRoutedEvent,
        routed('req-parking-globex', [], {
          collections: ['policies'],
          topK: 5,
          query: 'parking permits renewed',
        }),
        { tenantId: 'globex' },
      ),
    ]);
    expect((await retrievedFor('req-parking-acme')).data.passages.map((p) => p.documentId)).not.toContain(
      'parking',
    );
    expect((await retrievedFor('req-parking-globex')).data.passages.map((p) => p.documentId)).toContain(
      'parking',
    );
    expect(failed).toEqual([]);
  });

  it('answers a document with no text with DocumentFailed on the document topic, never a RequestFailed, and indexes a heading-only note', async () => {
    await bus.publish([
      outgoing(DocumentSubmittedEvent, document('empty-file', ''), { tenantId: 'acme' }),
      outgoing(DocumentSubmittedEvent, document('blank-file', '  \n\n\t'), { tenantId: 'acme' }),
      outgoing(DocumentSubmittedEvent, document('heading-only', '# Kitchen closed on Fridays\n'), {
        tenantId: 'acme',
      }),
    ]);
    for (const documentId of ['empty-file', 'blank-file']) {
      const failure = await until(
        () => documentFailures.find((e) => e.data.documentId === documentId),
        `DocumentFailed for ${documentId}`,
      );
      expect(failure.data).toEqual({
        documentId,
        collection: 'policies',
        code: 'invalid_payload',
        message: expect.stringContaining(
          `document "${documentId}" (version 1, text/markdown) has no text to index`,
        ),
        stage: 'retriever',
        details: [expect.stringMatching(/^content: no text to index/)],
      });
      expect(failure.correlationid).toBe(documentId);
    }
    const note = await indexedOf('heading-only');
    expect(note.data.chunkCount).toBe(1);
    expect(failed.filter((e) => ['empty-file', 'blank-file'].includes(e.correlationid))).toEqual([]);
  });
});
