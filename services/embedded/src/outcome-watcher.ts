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
  /** Keyed by tenant and document id (documentKey): two tenants may use the same id. */
  private readonly indexed = new Map<string, DocumentIndexed>();
  private readonly failedDocuments = new Map<string, DocumentFailed>();
  private readonly waiters = new Set<() => void>();
  private subscription?: Subscription;

  constructor(private readonly bus: EventBus) {}

  async start(): Promise<void> {
    const record = async (event: EventEnvelope<object>) => {
      if (event.type === DocumentIndexedEvent.type) {
        const data = event.data as DocumentIndexed;
        const key = documentKey(event.tenantid, data.documentId);
        this.indexed.set(key, data);
        this.failedDocuments.delete(key);
      } else if (event.type === DocumentFailedEvent.type) {
        const data = event.data as DocumentFailed;
        const key = documentKey(event.tenantid, data.documentId);
        this.failedDocuments.set(key, data);
        this.indexed.delete(key);
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
   * Resolves when every listed document (of `tenant`, when given) has been indexed. Rejects, without waiting for the rest, as
   * soon as one of them is refused (DocumentFailed: the error names the document, its code and what
   * to fix), or after `timeoutMs`.
   */
  async documentsIndexed(
    documentIds: readonly string[],
    timeoutMs: number,
    tenant?: string,
  ): Promise<DocumentIndexed[]> {
    // Without a tenant, a document of that id in any tenant counts.
    const find = <T>(map: Map<string, T>, id: string): T | undefined => {
      if (tenant !== undefined) return map.get(documentKey(tenant, id));
      for (const [key, value] of map) if (key.endsWith(`\u0000${id}`)) return value;
      return undefined;
    };
    const outcome = await this.waitFor<true | DocumentFailed>(
      () => {
        const failed = documentIds.map((id) => find(this.failedDocuments, id)).find((f) => f !== undefined);
        if (failed) return failed;
        return documentIds.every((id) => find(this.indexed, id) !== undefined) ? true : undefined;
      },
      timeoutMs,
      'indexing',
    );
    if (outcome !== true) {
      throw new Error(
        `document ${outcome.documentId} was not indexed (${outcome.code}): ${outcome.message}${outcome.details.length > 0 ? ` [${outcome.details.join('; ')}]` : ''}`,
      );
    }
    return documentIds.map((id) => find(this.indexed, id)!);
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

function documentKey(tenant: string, documentId: string): string {
  return `${tenant}\u0000${documentId}`;
}
