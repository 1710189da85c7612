import type { FailureCode, Stage } from '@llmbus/contracts';
import { LRUCache } from 'lru-cache';

export type RequestStatus = 'accepted' | 'routed' | 'review' | 'completed' | 'failed';

/** What `GET /v1/requests/:id` shows: the latest known state of a request. */
export interface RequestStatusView {
  readonly requestId: string;
  readonly status: RequestStatus;
  readonly updatedAt: string;
  readonly workflow?: { readonly id: string; readonly version: number };
  readonly output?: Readonly<Record<string, unknown>>;
  readonly citations?: readonly string[];
  readonly acceptedBy?: 'validator' | 'reviewer';
  readonly failure?: {
    readonly code: FailureCode;
    readonly message: string;
    readonly stage: Stage;
    readonly details: readonly string[];
  };
  readonly reviewReason?: string;
}

export type StatusUpdate = Omit<RequestStatusView, 'requestId' | 'updatedAt'>;

// Events of one request arrive on different topics, so out of order; a status only moves forward.
const RANK: Readonly<Record<RequestStatus, number>> = {
  accepted: 0,
  routed: 1,
  review: 2,
  completed: 3,
  failed: 3,
};

/**
 * The router's read model of request statuses, fed by its own events and by the result and review
 * topics. LIMITATION: in memory and bounded (least recently used entries are evicted), so it
 * forgets requests on restart and after `capacity` newer ones; the auditor's trail is the durable
 * record. With several router replicas each sees only the result events of its own partitions.
 */
export class RequestStatusStore {
  private readonly entries: LRUCache<string, RequestStatusView>;

  constructor(readonly capacity = 10_000) {
    this.entries = new LRUCache({ max: capacity });
  }

  /** Applies an update unless the request already reached the same or a later status. */
  record(tenantId: string, requestId: string, update: StatusUpdate): void {
    const key = keyOf(tenantId, requestId);
    const current = this.entries.get(key);
    if (current && RANK[update.status] <= RANK[current.status]) return;
    this.entries.set(key, { ...current, ...update, requestId, updatedAt: new Date().toISOString() });
  }

  /** The status of a request of this tenant; another tenant's request is simply not found. */
  get(tenantId: string, requestId: string): RequestStatusView | undefined {
    return this.entries.get(keyOf(tenantId, requestId));
  }
}

function keyOf(tenantId: string, requestId: string): string {
  return `${tenantId}\u0000${requestId}`;
}
