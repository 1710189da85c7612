import type { EventBus, EventHandler } from '@llmbus/bus';
import {
  DocumentFailedEvent,
  DocumentIndexedEvent,
  EventEnvelope,
  RequestFailedEvent,
} from '@llmbus/contracts';
import { OutcomeWatcher } from './outcome-watcher';

/** A bus that hands the watcher's handlers to the test, which plays the events the bus would deliver. */
function fakeBus(): { bus: EventBus; deliver: (type: string, data: object) => Promise<void> } {
  let handlers: Record<string, EventHandler> = {};
  const bus = {
    subscribe: (options: { handlers: Record<string, EventHandler> }) => {
      handlers = options.handlers;
      return Promise.resolve({ close: () => Promise.resolve() });
    },
  } as unknown as EventBus;
  const deliver = async (type: string, data: object) => {
    const handler = handlers[type];
    if (!handler) throw new Error(`the watcher does not subscribe to ${type}`);
    const envelope = { type, correlationid: 'c', tenantid: 'acme', data } as unknown as EventEnvelope<object>;
    await handler(envelope, {} as never);
  };
  return { bus, deliver };
}

describe('OutcomeWatcher.documentsIndexed', () => {
  it("tells two tenants' documents of the same id apart when given the tenant", async () => {
    const { bus, deliver } = fakeBus();
    const watcher = new OutcomeWatcher(bus);
    await watcher.start();
    // The fake bus delivers every event in tenant acme.
    await deliver(DocumentIndexedEvent.type, {
      documentId: 'travel',
      collection: 'c',
      version: 1,
      chunkCount: 1,
      unchanged: false,
      durationMs: 1,
    });
    await expect(watcher.documentsIndexed(['travel'], 3_600_000, 'acme')).resolves.toHaveLength(1);
    await expect(watcher.documentsIndexed(['travel'], 3_600_000)).resolves.toHaveLength(1);
    await expect(watcher.documentsIndexed(['travel'], 50, 'globex')).rejects.toThrow(/indexing/);
    await watcher.close();
  });

  it('ends the wait with the failure when a document is refused, instead of timing out', async () => {
    const { bus, deliver } = fakeBus();
    const watcher = new OutcomeWatcher(bus);
    await watcher.start();
    const waiting = watcher.documentsIndexed(['a', 'b'], 3_600_000);
    await deliver(DocumentIndexedEvent.type, {
      documentId: 'a',
      collection: 'c',
      version: 1,
      chunkCount: 1,
      unchanged: false,
      durationMs: 1,
    });
    await deliver(DocumentFailedEvent.type, {
      documentId: 'b',
      collection: 'c',
      code: 'invalid_payload',
      message:
        'DocumentSubmitted payload is invalid: contentType must be one of text/plain, text/markdown, text/html',
      stage: 'retriever',
      details: ['contentType: unsupported'],
    });
    await expect(waiting).rejects.toThrow(
      'document b was not indexed (invalid_payload): DocumentSubmitted payload is invalid: contentType must be one of text/plain, text/markdown, text/html [contentType: unsupported]',
    );
    await watcher.close();
  });

  it('still resolves with every document once all are indexed, and a request failure is an outcome', async () => {
    const { bus, deliver } = fakeBus();
    const watcher = new OutcomeWatcher(bus);
    await watcher.start();
    const waiting = watcher.documentsIndexed(['a'], 3_600_000);
    const indexed = {
      documentId: 'a',
      collection: 'c',
      version: 1,
      chunkCount: 2,
      unchanged: false,
      durationMs: 1,
    };
    await deliver(DocumentIndexedEvent.type, indexed);
    await expect(waiting).resolves.toEqual([indexed]);
    await deliver(RequestFailedEvent.type, { requestId: 'c' });
    await expect(watcher.outcome('c', 3_600_000)).resolves.toMatchObject({ type: RequestFailedEvent.type });
    await watcher.close();
  });
});
