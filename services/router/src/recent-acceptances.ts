import type { RequestStatusView } from '@llmbus/audit';
import { LRUCache } from 'lru-cache';
import { requestKey } from './request-key';

/**
 * Requests this replica accepted moments ago, so that a GET right after the POST answers
 * `accepted` while the auditor has not recorded the RequestSubmitted yet. Bounded (least recently
 * used entries go first) and short-lived: the audit trail is the record, this only bridges its lag.
 */
export class RecentAcceptances {
  private readonly entries: LRUCache<string, Acceptance>;

  /** `ttlMs`: how long an acceptance is remembered (default 10 minutes, well past the auditor's usual lag). */
  constructor(capacity = 10_000, ttlMs = 600_000) {
    this.entries = new LRUCache({ max: capacity, ttl: ttlMs });
  }

  /** Remembers that the tenant's request was accepted now, with its body's digest when known. */
  remember(tenantId: string, requestId: string, submissionDigest?: string): void {
    this.entries.set(requestKey(tenantId, requestId), {
      acceptedAt: new Date().toISOString(),
      submissionDigest,
    });
  }

  /** The digest of the body this replica accepted recently under the tenant's request id. */
  submissionDigest(tenantId: string, requestId: string): string | undefined {
    return this.entries.get(requestKey(tenantId, requestId))?.submissionDigest;
  }

  /** `accepted` for a request of this tenant accepted here recently; another tenant's is not found. */
  get(tenantId: string, requestId: string): RequestStatusView | undefined {
    const entry = this.entries.get(requestKey(tenantId, requestId));
    return entry === undefined ? undefined : { requestId, status: 'accepted', updatedAt: entry.acceptedAt };
  }
}

interface Acceptance {
  readonly acceptedAt: string;
  readonly submissionDigest?: string;
}
