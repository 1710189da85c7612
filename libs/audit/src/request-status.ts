import {
  ContextRetrievedEvent,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  type FailureCode,
  type Stage,
} from '@llmbus/contracts';
import { isoTime } from './iso-time';

export const REQUEST_STATES = ['accepted', 'routed', 'review', 'completed', 'failed'] as const;
/** Where a request stands, as `GET /v1/requests/:id` shows it; a status only moves forward. */
export type RequestState = (typeof REQUEST_STATES)[number];

/** What `GET /v1/requests/:id` shows: the latest known state of a request. */
export interface RequestStatusView {
  readonly requestId: string;
  readonly status: RequestState;
  /** ISO 8601: the event time of the event that set the status. */
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
  /** Why the output went to human review (the latest review request), once it did. */
  readonly reviewReason?: string;
  /**
   * Not part of the HTTP answer: the outcome event's sealed PII mapping (the auditor stores it as
   * `payload._piiVault`, bound to the event's tenant, source and id), with which the reader
   * restores `output` and `failure`, then drops this field.
   */
  readonly sealedOutcome?: { readonly source: string; readonly id: string; readonly vault: unknown };
}

// Events of one request are recorded from several topics, so in any order: the status is the
// highest rank recorded, never the latest row. Events of other types do not change the status.
const ACCEPTED = [RequestSubmittedEvent.type];
const ROUTED = [
  RequestRoutedEvent.type,
  ContextRetrievedEvent.type,
  ResponseGeneratedEvent.type,
  RegenerationRequestedEvent.type,
];
const REVIEW = [ReviewRequestedEvent.type, ReviewDecidedEvent.type];
const OUTCOME = [RequestCompletedEvent.type, RequestFailedEvent.type];
/** Events whose payload carries the request's `context.workflow`. */
const PLACED = [...ROUTED, ReviewRequestedEvent.type];

/** The rank REQUEST_STATUS_SQL gives each type it reads: 3 outcome, 2 review, 1 routed, 0 accepted. */
export const REQUEST_STATUS_RANKS: ReadonlyMap<string, number> = new Map([
  ...ACCEPTED.map((type) => [type, 0] as const),
  ...ROUTED.map((type) => [type, 1] as const),
  ...REVIEW.map((type) => [type, 2] as const),
  ...OUTCOME.map((type) => [type, 3] as const),
]);

/** The types whose payload REQUEST_STATUS_SQL reads the request's `context.workflow` from. */
export const REQUEST_STATUS_PLACED_TYPES: ReadonlySet<string> = new Set(PLACED);

/**
 * The status of one request from its recorded events, in one statement. Every read is on the
 * trail index (tenant_id, correlation_id, …): one index range per request, whatever the table's
 * size. The first outcome wins (a request has one, but a duplicate must not flip it); otherwise
 * the latest event of the highest rank reached. No row when the tenant has no status event of
 * the request. Parameters: see requestStatusParams.
 */
export const REQUEST_STATUS_SQL = `
WITH events AS (
  SELECT type, event_time, seq, payload, source, event_id,
    CASE WHEN type = ANY($4::text[]) THEN 3 WHEN type = ANY($5::text[]) THEN 2
         WHEN type = ANY($6::text[]) THEN 1 ELSE 0 END AS rank
  FROM audit_events
  WHERE tenant_id = $1 AND correlation_id = $2 AND type = ANY($3::text[])
),
outcome AS (
  SELECT type, event_time, payload, source, event_id FROM events WHERE rank = 3 ORDER BY event_time, seq LIMIT 1
),
progress AS (
  SELECT rank, event_time FROM events WHERE rank < 3 ORDER BY rank DESC, event_time DESC, seq DESC LIMIT 1
),
placed AS (
  SELECT payload -> 'context' -> 'workflow' AS workflow FROM events
  WHERE type = ANY($7::text[]) ORDER BY event_time DESC, seq DESC LIMIT 1
),
review AS (
  SELECT payload ->> 'reason' AS reason FROM events
  WHERE type = $8::text ORDER BY event_time DESC, seq DESC LIMIT 1
)
SELECT
  CASE WHEN o.type = $9::text THEN 'completed' WHEN o.type = $10::text THEN 'failed'
       WHEN p.rank = 2 THEN 'review' WHEN p.rank = 1 THEN 'routed' ELSE 'accepted' END AS status,
  coalesce(o.event_time, p.event_time) AS updated_at,
  coalesce(CASE WHEN o.type = $9::text THEN o.payload -> 'workflow' END, w.workflow) AS workflow,
  CASE WHEN o.type = $9::text THEN o.payload -> 'output' END AS output,
  CASE WHEN o.type = $9::text THEN o.payload -> 'citations' END AS citations,
  CASE WHEN o.type = $9::text THEN o.payload ->> 'acceptedBy' END AS accepted_by,
  CASE WHEN o.type = $10::text THEN jsonb_build_object(
    'code', o.payload -> 'code', 'message', o.payload -> 'message',
    'stage', o.payload -> 'stage', 'details', coalesce(o.payload -> 'details', '[]'::jsonb)) END AS failure,
  r.reason AS review_reason,
  o.payload -> '_piiVault' AS pii_vault, o.source AS outcome_source, o.event_id AS outcome_id
FROM (SELECT 1) AS one
LEFT JOIN outcome o ON true
LEFT JOIN progress p ON true
LEFT JOIN placed w ON true
LEFT JOIN review r ON true
WHERE o.type IS NOT NULL OR p.rank IS NOT NULL`;

/** The parameters of REQUEST_STATUS_SQL for one request of one tenant. */
export function requestStatusParams(tenantId: string, requestId: string): unknown[] {
  return [
    tenantId,
    requestId,
    [...ACCEPTED, ...ROUTED, ...REVIEW, ...OUTCOME],
    OUTCOME,
    REVIEW,
    ROUTED,
    PLACED,
    ReviewRequestedEvent.type,
    RequestCompletedEvent.type,
    RequestFailedEvent.type,
  ];
}

/** jsonb as a driver may return it: parsed, or as its text. */
type Json<T> = T | string;

/** A row of REQUEST_STATUS_SQL as both drivers return it (timestamps may come back as Date or string). */
export interface RequestStatusRow {
  status: RequestState;
  updated_at: Date | string;
  workflow: Json<{ id: string; version: number }> | null;
  output: Json<Record<string, unknown>> | null;
  citations: Json<string[]> | null;
  accepted_by: 'validator' | 'reviewer' | null;
  failure: Json<{ code: FailureCode; message: string; stage: Stage; details: string[] }> | null;
  review_reason: string | null;
  pii_vault: Json<Record<string, unknown>> | null;
  outcome_source: string | null;
  outcome_id: string | null;
}

// The jsonb values selected here are objects or arrays, never JSON strings, so text means unparsed.
function parsed<T>(value: Json<T>): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

/** The view of a row; fields the request does not have yet stay absent, as in the HTTP answer. */
export function toRequestStatusView(requestId: string, row: RequestStatusRow): RequestStatusView {
  return {
    requestId,
    status: row.status,
    updatedAt: isoTime(row.updated_at),
    ...(row.workflow !== null && { workflow: parsed(row.workflow) }),
    ...(row.output !== null && { output: parsed(row.output) }),
    ...(row.citations !== null && { citations: parsed(row.citations) }),
    ...(row.accepted_by !== null && { acceptedBy: row.accepted_by }),
    ...(row.failure !== null && { failure: parsed(row.failure) }),
    ...(row.review_reason !== null && { reviewReason: row.review_reason }),
    ...(row.pii_vault !== null &&
      row.outcome_source !== null &&
      row.outcome_id !== null && {
        sealedOutcome: { source: row.outcome_source, id: row.outcome_id, vault: parsed(row.pii_vault) },
      }),
  };
}
