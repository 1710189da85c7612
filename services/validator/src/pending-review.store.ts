import type { ModelUsage, WorkflowRef } from '@llmbus/contracts';
import { LRUCache } from 'lru-cache';

/** An output escalated to review, kept until a reviewer decides. */
export interface PendingReview {
  readonly workflow: WorkflowRef;
  /** The redacted output under review; absent when no output could be parsed. */
  readonly output?: Readonly<Record<string, unknown>>;
  /** Cited ids that are passages retrieved for the request. */
  readonly citations: readonly string[];
  /** Ids of the passages retrieved for the request, to check the citations of an edited output. */
  readonly passageIds: readonly string[];
  readonly attempts: number;
  readonly usage: ModelUsage;
  /** The requester's reference, echoed on the result. */
  readonly replyTo?: string;
  /**
   * Id of the ReviewDecided event applied. A redelivery of that event is applied again (its
   * outputs carry the same derived ids); any other decision for the request is ignored.
   */
  readonly decisionEventId?: string;
}

/**
 * Reviews awaiting a decision, keyed by tenant and request. ReviewDecided carries only the
 * decision, so the validator remembers what it escalated by consuming its own ReviewRequested.
 * LIMITATION: in memory and bounded; after a restart (or `capacity` newer reviews) a decision
 * finds nothing and fails the request. A durable store is a later issue.
 */
export class PendingReviewStore {
  private readonly entries: LRUCache<string, PendingReview>;

  constructor(readonly capacity = 10_000) {
    this.entries = new LRUCache({ max: capacity });
  }

  /** Records a review; a redelivered ReviewRequested does not undo a decision already applied. */
  add(tenantId: string, requestId: string, review: PendingReview): void {
    const key = keyOf(tenantId, requestId);
    if (this.entries.get(key)?.decisionEventId !== undefined) return;
    this.entries.set(key, review);
  }

  get(tenantId: string, requestId: string): PendingReview | undefined {
    return this.entries.get(keyOf(tenantId, requestId));
  }

  /** Marks the review decided by this ReviewDecided event. */
  markDecided(tenantId: string, requestId: string, decisionEventId: string): void {
    const key = keyOf(tenantId, requestId);
    const review = this.entries.get(key);
    if (review) this.entries.set(key, { ...review, decisionEventId });
  }
}

function keyOf(tenantId: string, requestId: string): string {
  return `${tenantId}\u0000${requestId}`;
}
