import type { EventEnvelope } from '@llmbus/contracts';
import type { RequestStatusView } from './request-status';
import type { RequestCost, UsageRow, UsageWindow } from './audit-usage';

/** Where an event was read from. Offsets are decimal strings: Kafka offsets exceed 2^53. */
export interface BusPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** One stored event: the envelope as consumed, where it was read and when it was recorded. */
export interface AuditRecord {
  readonly envelope: EventEnvelope<Record<string, unknown>>;
  readonly position: BusPosition;
  /** ISO 8601, set by the database when the row was inserted. */
  readonly recordedAt: string;
  /**
   * Present when the database refused the event as received and the store kept a storable copy:
   * why it was refused (`SQLSTATE: message`). In such a copy U+0000 and lone surrogates read
   * U+FFFD, and token or cost columns that overflowed are empty (the payload keeps the numbers).
   */
  readonly sanitisedReason?: string;
  /** The record's link in its tenant's hash chain; absent on rows recorded before the chain existed. */
  readonly chain?: AuditChainLink;
  /**
   * Present when the retention job removed the payload (ISO 8601): `envelope.data` is then the
   * tombstone `{ removedPayload: { digest, class, runId, removedAt } }`.
   */
  readonly payloadRemovedAt?: string;
}

/** Where a record sits in its tenant's hash chain (see `audit verify`). Hashes are SHA-256 hex. */
export interface AuditChainLink {
  /** Position in the tenant's chain, from 1. */
  readonly seq: number;
  /** Hash of the tenant's previous record; 64 zeros for the first. */
  readonly prevHash: string;
  /** SHA-256 of the RFC 8785 canonical JSON of the stored columns, payloadDigest and prevHash. */
  readonly hash: string;
  /** SHA-256 of the payload's RFC 8785 canonical JSON; kept when retention removes the payload. */
  readonly payloadDigest: string;
}

/** Options of AuditStore.record. */
export interface RecordOptions {
  /** Called when only a storable copy of the event could be recorded, with the refusal's reason. */
  readonly onSanitised?: (reason: string) => void;
}

/** Tokens, cost and latency of one step (event type) on one model. */
export interface StepCost {
  readonly type: string;
  /** Stage that produced the events (from the CloudEvents source), when known. */
  readonly stage: string | null;
  readonly modelId: string;
  readonly events: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** US dollars. */
  readonly costUsd: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
}

/** A request waiting for a human decision: the latest ReviewRequested of the request. */
export interface PendingReview {
  readonly requestId: string;
  readonly review: AuditRecord;
}

export const REQUEST_STATUSES = ['in_progress', 'awaiting_review', 'completed', 'failed'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** One request as the request list shows it. */
export interface RequestSummary {
  readonly requestId: string;
  readonly status: RequestStatus;
  readonly firstEventAt: string;
  readonly lastEventAt: string;
  readonly lastEventType: string;
  readonly events: number;
}

/** A page of requests, newest first; `nextCursor` is absent on the last page. */
export interface RequestPage {
  readonly requests: readonly RequestSummary[];
  readonly nextCursor?: string;
}

/** Whether a request can take a review decision now. */
export type ReviewState =
  | { readonly status: 'unknown_request' }
  | { readonly status: 'not_requested' }
  | { readonly status: 'pending'; readonly review: AuditRecord }
  /** A decision or a final result came after the latest review request. */
  | { readonly status: 'resolved'; readonly resolvedBy: string };

/**
 * The append-only audit trail. Every query takes the tenant: there is no way to read across
 * tenants. Recording is idempotent on the event's identity (tenant, source and id, see
 * EventIdentity), so redelivered events are stored once, and events of other producers or
 * tenants that happen to share an id are stored too.
 */
/** What onRecorded tells of a recorded event: its tenant, request (correlation id) and type. */
export type RecordedListener = (tenantId: string, requestId: string, type: string) => void;

/** A recorded RequestRouted record, as routingOf reads it. */
export interface RecordedRouting {
  /** `ce_id` of the event that was routed (the record's causation id). */
  readonly eventId: string;
  /** The `submissionDigest` of the record's payload, when it has one. */
  readonly submissionDigest?: string;
}

export interface AuditStore {
  /**
   * Stores an event; resolves true when it was new, false when its tenant, source and id were
   * already recorded. An event the database refuses for good is stored as a marked storable copy
   * (`sanitisedReason`); throws AuditDataError when not even that can be stored, and other errors
   * on outages.
   */
  record(envelope: EventEnvelope, position: BusPosition, options?: RecordOptions): Promise<boolean>;
  /**
   * Calls `listener` after each event this store object records (committed, not a duplicate), in
   * this process only: readers sharing the writer's store (embedded mode) learn of a row at once;
   * a store that reads what another process writes hears nothing. Returns the unsubscribe.
   */
  onRecorded?(listener: RecordedListener): () => void;
  /** A request's events in event-time order (recording order breaks ties); empty when unknown to the tenant. */
  trail(tenantId: string, requestId: string): Promise<readonly AuditRecord[]>;
  /** Tokens, cost and latency grouped by event type and model, optionally since a time. */
  costByStep(tenantId: string, since?: Date): Promise<readonly StepCost[]>;
  /** One request's tokens, cost and model time by stage and model, with its workflow and outcome; undefined when unknown to the tenant. */
  requestCost(tenantId: string, requestId: string): Promise<RequestCost | undefined>;
  /** Tokens, cost and model time by workflow version, stage, model and request outcome over a window. */
  usage(tenantId: string, window: UsageWindow): Promise<readonly UsageRow[]>;
  /** Requests whose latest review request has no later decision or final result, oldest first. */
  reviewQueue(tenantId: string): Promise<readonly PendingReview[]>;
  /** The tenant's recorded dead letters (DeadLettered events), newest first, at most `limit`. */
  deadLetters(tenantId: string, limit: number): Promise<readonly AuditRecord[]>;
  /**
   * The first recorded routing (RequestRouted) of the tenant's request that another event than
   * `exceptEventId` caused: the id of the event that was routed and the `submissionDigest` its
   * payload carries (absent when the payload has none, or was removed). One indexed lookup of that
   * one row, not the trail; undefined when no such routing is recorded.
   */
  routingOf(tenantId: string, requestId: string, exceptEventId: string): Promise<RecordedRouting | undefined>;
  /** One recorded event of the tenant by its CloudEvents id; undefined when the tenant has none. */
  eventById(tenantId: string, eventId: string): Promise<AuditRecord | undefined>;
  /**
   * Open tool approvals (latest review of their request, kind `tool-approval`, no decision or
   * outcome since) whose `expiresAt` is before `now`, across tenants, oldest first, at most
   * `limit`: the auditor ends each request as `approval_expired`. A maintenance query, never
   * served to a tenant.
   */
  expiredToolApprovals(now: Date, limit: number): Promise<readonly PendingReview[]>;
  /** Review status of one request. */
  reviewState(tenantId: string, requestId: string): Promise<ReviewState>;
  /** Requests newest first (not documents: a group of document events only is left out); pass the previous page's `nextCursor` to continue. */
  listRequests(tenantId: string, limit: number, cursor?: string): Promise<RequestPage>;
  /**
   * What `GET /v1/requests/:id` shows for a request, computed from its recorded events in one
   * indexed lookup; undefined when the tenant has no record of it (another tenant's included).
   */
  requestStatus(tenantId: string, requestId: string): Promise<RequestStatusView | undefined>;
  /** Resolves once the store answers queries on the audit table; rejects with the cause otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const AUDIT_ERROR_CODES = [
  'invalid_cursor',
  'invalid_limit',
  'invalid_tenant',
  'invalid_position',
] as const;
export type AuditErrorCode = (typeof AUDIT_ERROR_CODES)[number];

/** A query or record argument the store cannot use; the message says what to send instead. */
export class AuditQueryError extends Error {
  constructor(
    readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AuditQueryError';
  }
}

/** Largest page listRequests returns. */
export const MAX_PAGE_SIZE = 200;
