import type { EventBus, Subscription } from '@llmbus/bus';
import {
  DocumentFailed,
  DocumentFailedEvent,
  DocumentIndexed,
  DocumentIndexedEvent,
  EventEnvelope,
  RequestCompletedEvent,
  RequestFailedEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';

/** A request's terminal (or waiting-for-a-human) event. */
export type Outcome = EventEnvelope<object> & { type: string };

/**
 * Follows results and indexing outcomes on the bus through its own consumer group, so the
 * embedded console can wait for them the way any downstream system would.
 */
export class OutcomeWatcher {
  private readonly outcomes = new Map<string, Outcome>();
  private readonly indexed = new Map<string, DocumentIndexed>();
  private readonly failedDocuments = new Map<string, DocumentFailed>();
  private readonly waiters = new Set<() => void>();
  private subscription?: Subscription;

  constructor(private readonly bus: EventBus) {}

  async start(): Promise<void> {
    const record = async (event: EventEnvelope<object>) => {
      if (event.type === DocumentIndexedEvent.type) {
        const data = event.data as DocumentIndexed;
        this.indexed.set(data.documentId, data);
        this.failedDocuments.delete(data.documentId);
      } else if (event.type === DocumentFailedEvent.type) {
        const data = event.data as DocumentFailed;
        this.failedDocuments.set(data.documentId, data);
        this.indexed.delete(data.documentId);
      } else {
        this.outcomes.set(event.correlationid, event);
      }
      for (const wake of [...this.waiters]) wake();
      return [];
    };
    this.subscription = await this.bus.subscribe({
      stage: 'auditor',
      groupId: 'llmbus.console',
      notifyRequester: false,
      handlers: {
        [DocumentIndexedEvent.type]: record,
        [DocumentFailedEvent.type]: record,
        [RequestCompletedEvent.type]: record,
        [RequestFailedEvent.type]: record,
        [ReviewRequestedEvent.type]: record,
      },
    });
  }

  /** Resolves with the first outcome of a request, or rejects after `timeoutMs`. */
  outcome(requestId: string, timeoutMs: number): Promise<Outcome> {
    return this.waitFor(() => this.outcomes.get(requestId), timeoutMs, `request ${requestId}`);
  }

  /**
   * Resolves when every listed document has been indexed. Rejects, without waiting for the rest, as
   * soon as one of them is refused (DocumentFailed: the error names the document, its code and what
   * to fix), or after `timeoutMs`.
   */
  async documentsIndexed(documentIds: readonly string[], timeoutMs: number): Promise<DocumentIndexed[]> {
    const outcome = await this.waitFor<true | DocumentFailed>(
      () => {
        const failed = documentIds.map((id) => this.failedDocuments.get(id)).find((f) => f !== undefined);
        if (failed) return failed;
        return documentIds.every((id) => this.indexed.has(id)) ? true : undefined;
      },
      timeoutMs,
      'indexing',
    );
    if (outcome !== true) {
      throw new Error(
        `document ${outcome.documentId} was not indexed (${outcome.code}): ${outcome.message}${outcome.details.length > 0 ? ` [${outcome.details.join('; ')}]` : ''}`,
      );
    }
    return documentIds.map((id) => this.indexed.get(id)!);
  }

  async close(): Promise<void> {
    await this.subscription?.close();
  }

  private waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${what} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}
