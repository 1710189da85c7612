import {
  isStorableText,
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  DeadLetteredEvent,
  DocumentDeletedEvent,
  DocumentFailedEvent,
  DocumentIndexedEvent,
  DocumentRemovedEvent,
  DocumentSubmittedEvent,
  type EventEnvelope,
} from '@llmbus/contracts';
import { CALL_RESTATING_TYPES, RESTATED_USAGE_TYPES } from './audit-columns';
import {
  ChainBatchConflictError,
  chainBatchCommitted,
  insertChained,
  insertChainedBatch,
  MAX_CHAIN_BATCH_ROWS,
  type ChainBatchAttempt,
  type ChainWriteOptions,
} from './audit-chain';
import {
  queryRequestCost,
  queryUsage,
  type RequestCost,
  type UsageRow,
  type UsageWindow,
} from './audit-usage';
import {
  removeExpiredPayloads,
  type RetentionOptions,
  type RetentionPolicy,
  type RetentionReport,
} from './audit-retention';
import { verifyAuditChains, type TenantChainReport, type VerifyOptions } from './audit-verify';
import { AuditInsertRow, insertRowOf, storableCopy } from './audit-insert-row';
import { RECORD_COLUMNS, RecordRow, isoTime, toRecord } from './audit-rows';
import {
  AuditQueryError,
  AuditStore,
  BusPosition,
  MAX_PAGE_SIZE,
  PendingReview,
  RequestPage,
  RequestStatus,
  ReviewState,
  StepCost,
  AuditRecord,
  RecordOptions,
  RecordedListener,
  RecordedRouting,
} from './audit-store';
import { migrate } from './migrations';
import {
  REQUEST_STATUS_SQL,
  requestStatusParams,
  toRequestStatusView,
  type RequestStatusRow,
  type RequestStatusView,
} from './request-status';
import { AuditDataError, isPermanentDataError, sqlStateOf } from './record-errors';
import type { RecordedStatuses } from './recorded-statuses';
import type { SqlClient } from './sql-client';

/** A row waiting in SqlAuditStore's group commit, with its recorder's promise. */
interface PendingInsert {
  readonly row: AuditInsertRow;
  readonly resolve: (inserted: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** Event types that end a pending review: a human decision or a final result. */
const REVIEW_RESOLVERS = [ReviewDecidedEvent.type, RequestCompletedEvent.type, RequestFailedEvent.type];

interface SummaryRow {
  correlation_id: string;
  first_seq: string;
  first_at: Date | string;
  last_at: Date | string;
  events: number;
  last_type: string;
  completed_at: Date | string | null;
  failed_at: Date | string | null;
  review_at: Date | string | null;
  decided_at: Date | string | null;
}

interface CostRow {
  type: string;
  stage: string | null;
  model_id: string;
  events: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  avg_latency_ms: number;
  max_latency_ms: number;
}

function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const detail = (error as { detail?: unknown }).detail;
  return typeof detail === 'string' && detail ? `${error.message} (${detail})` : error.message;
}

function requireTenant(tenantId: string): void {
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw new AuditQueryError('invalid_tenant', 'every audit query needs the tenant id of the caller');
  }
}

function encodeCursor(seq: string): string {
  return Buffer.from(`r:${seq}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]{1,40}$/.test(cursor)
    ? Buffer.from(cursor, 'base64url').toString('utf8')
    : '';
  const match = /^r:(\d{1,19})$/.exec(decoded);
  if (!match)
    throw new AuditQueryError(
      'invalid_cursor',
      'cursor is not one this API returned: pass nextCursor from the previous page unchanged',
    );
  return match[1];
}

function time(value: Date | string | null): number | undefined {
  return value === null ? undefined : new Date(value).getTime();
}

/**
 * Event types of document ingestion and removal. A document's events carry its id as correlation
 * id, so they group like a request's, but a document is not a request: `listRequests` leaves out
 * groups made only of these (they would otherwise read as a request `in_progress` forever).
 */
/** A submitted request with no outcome (see SqlAuditStore.unfinishedRequests). */
export interface UnfinishedRequest {
  readonly tenantId: string;
  readonly requestId: string;
  /** Its last recorded event (event time, then recording order). */
  readonly lastEvent: AuditRecord;
  /**
   * Its last recorded event of one of the `pathTypes` given to unfinishedRequests (same order), or
   * undefined when it has none (or none were given): the event a stage takes up next.
   */
  readonly lastPathEvent?: AuditRecord;
  /** When it was submitted: the event time of its first RequestSubmitted, ISO 8601. */
  readonly submittedAt: string;
}

const DOCUMENT_EVENT_TYPES: readonly string[] = [
  DocumentSubmittedEvent.type,
  DocumentIndexedEvent.type,
  DocumentDeletedEvent.type,
  DocumentRemovedEvent.type,
  DocumentFailedEvent.type,
];

function statusOf(row: SummaryRow): RequestStatus {
  const completed = time(row.completed_at);
  const failed = time(row.failed_at);
  if (completed !== undefined || failed !== undefined)
    return (completed ?? -Infinity) >= (failed ?? -Infinity) ? 'completed' : 'failed';
  const review = time(row.review_at);
  const decided = time(row.decided_at);
  return review !== undefined && (decided === undefined || decided < review)
    ? 'awaiting_review'
    : 'in_progress';
}

/**
 * The audit store's SQL, written once for PostgreSQL and run unchanged on PGlite. Results are
 * cast in SQL to types both drivers parse the same way (int4, float8, text).
 */
export class SqlAuditStore implements AuditStore {
  private readonly recordedListeners = new Set<RecordedListener>();
  /** Rows waiting for their tenant's next chained transaction, by tenant (see insertQueued). */
  private readonly insertQueues = new Map<string, PendingInsert[]>();
  private readonly writes = { transactions: 0, rows: 0, batchesRolledBack: 0 };
  /**
   * Whether a tenant's first batch also waits one turn of the event loop, so that the events a
   * stage publishes together (delivered in the same turn in process) go in together.
   */
  protected readonly gathersFirstBatch: boolean = false;
  /**
   * The statuses of the requests this store records from their first event on, answered without
   * reading the trail (see RecordedStatuses): only for a store that is its trail's sole writer.
   */
  protected readonly recordedStatuses?: RecordedStatuses;

  constructor(
    protected readonly client: SqlClient,
    private readonly shutdown: () => Promise<void>,
    private readonly schema?: string,
    /** See ChainWriteOptions: true only for a database this store alone writes, one transaction at a time. */
    private readonly chainWrites: ChainWriteOptions = {},
  ) {}

  /** Applies pending migrations; resolves with the ids applied by this call. */
  migrate(): Promise<string[]> {
    return migrate(this.client, { schema: this.schema });
  }

  /**
   * Inserts the event. When PostgreSQL refuses it for good (isPermanentDataError: U+0000 or a
   * lone surrogate in its text, a number out of a column's range), stores a storable copy marked
   * with the reason in sanitised_reason instead, so one event never blocks the trail; throws
   * AuditDataError when even that copy is refused. Outages are thrown unchanged, to be retried.
   */
  async record(
    envelope: EventEnvelope,
    position: BusPosition,
    options: RecordOptions = {},
  ): Promise<boolean> {
    if (
      !/^\d{1,19}$/.test(position.offset) ||
      !Number.isInteger(position.partition) ||
      position.partition < 0
    ) {
      throw new AuditQueryError(
        'invalid_position',
        `position ${position.topic}/${position.partition}@${position.offset} is not a topic, partition >= 0 and decimal offset`,
      );
    }
    const row = insertRowOf(envelope, position);
    const recorded = await this.insertOrCopy(envelope, row, options);
    if (recorded)
      for (const listener of this.recordedListeners) listener(row.tenantId, row.correlationId, row.type);
    return recorded;
  }

  /**
   * See AuditStore.onRecorded. Listeners are called synchronously once the row is committed and
   * must not throw: an error would reach record's caller after the commit (the event, redelivered,
   * is then a duplicate).
   */
  onRecorded(listener: RecordedListener): () => void {
    this.recordedListeners.add(listener);
    return () => this.recordedListeners.delete(listener);
  }

  /** The row, or when PostgreSQL refuses it for good its storable copy (see record). */
  private async insertOrCopy(
    envelope: EventEnvelope,
    row: AuditInsertRow,
    options: RecordOptions,
  ): Promise<boolean> {
    try {
      return await this.insertQueued(row);
    } catch (error) {
      if (!isPermanentDataError(error)) throw error;
      const copy = storableCopy(row, `${sqlStateOf(error)}: ${errorMessage(error)}`);
      this.recordedStatuses?.forget(row);
      this.recordedStatuses?.forget(copy);
      try {
        const recorded = await this.insert(copy);
        options.onSanitised?.(copy.sanitisedReason ?? '');
        return recorded;
      } catch (second) {
        if (!isPermanentDataError(second)) throw second;
        throw new AuditDataError(
          envelope.id,
          sqlStateOf(second),
          `the audit store cannot hold event ${copy.eventId} (${copy.type}) even with its text sanitised: ` +
            `${sqlStateOf(second)}: ${errorMessage(second)}; first refusal: ${copy.sanitisedReason}`,
          { cause: second },
        );
      }
    }
  }

  /**
   * Write transactions this store object committed or tried, the rows they held (duplicates and
   * retried rows included: rows / transactions is the group commit's batch size), and the batches
   * rolled back to be written one row at a time (a duplicate or refused row among them, or an
   * outage). For tests and measurements.
   */
  writeStats(): { readonly transactions: number; readonly rows: number; readonly batchesRolledBack: number } {
    return { ...this.writes };
  }

  /** One chained insert per transaction: the tenant's chain lock is held until it commits. */
  private async insert(row: AuditInsertRow): Promise<boolean> {
    this.writes.transactions += 1;
    this.writes.rows += 1;
    const recordedBefore = await this.requestsRecordedBefore([row]);
    const attempt: ChainBatchAttempt = { wantsLinks: this.recordedStatuses !== undefined };
    const inserted = await insertChained(this.client, row, this.chainWrites, attempt);
    this.followCommitted([row], attempt, recordedBefore);
    return inserted;
  }

  /**
   * Of the requests of `rows` (one tenant's) that recordedStatuses cannot tell new from its own
   * memory, those the trail already holds: one indexed read, none when it can tell them all.
   */
  private async requestsRecordedBefore(
    rows: readonly AuditInsertRow[],
  ): Promise<ReadonlySet<string> | undefined> {
    const unsettled = this.recordedStatuses?.unsettledRequests(rows) ?? [];
    if (unsettled.length === 0) return undefined;
    const { rows: found } = await this.client.query<{ correlation_id: string }>(
      `SELECT DISTINCT correlation_id FROM audit_events WHERE tenant_id = $1 AND correlation_id = ANY($2::text[])`,
      [rows[0].tenantId, unsettled],
    );
    return new Set(found.map((r) => r.correlation_id));
  }

  /** Hands the rows of a committed transaction to recordedStatuses (none without it). */
  private followCommitted(
    rows: readonly AuditInsertRow[],
    attempt: ChainBatchAttempt,
    recordedBefore: ReadonlySet<string> | undefined,
  ): void {
    if (this.recordedStatuses === undefined) return;
    rows.forEach((row, i) => {
      const link = attempt.links?.[i];
      // A row without its link (not inserted, or not told): its request is read from the trail.
      if (link === undefined) this.recordedStatuses?.forget(row);
      else this.recordedStatuses?.committed(row, link, recordedBefore);
    });
  }

  /**
   * Group commit: the row joins its tenant's queue; while a transaction of that tenant is being
   * written, the rows recorded meanwhile wait and then go into the next one together (one lock,
   * one head read, one multi-row INSERT, one commit for all: the consumer records up to its
   * concurrency limit of events at once, and a tenant's writers are serialised by its chain lock
   * anyway). Resolves as insertChained does, once the row's transaction has committed. A batch
   * that fails for any reason (a duplicate among its rows, a row the database refuses, an outage)
   * is rolled back and its rows inserted one by one, so each caller gets its own row's outcome;
   * a batch whose COMMIT went unconfirmed (the connection lost), a lone row's too, is first looked
   * up, and when it was committed its callers are told so (not that their rows were duplicates).
   */
  private insertQueued(row: AuditInsertRow): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const pending = { row, resolve, reject };
      const queue = this.insertQueues.get(row.tenantId);
      if (queue !== undefined) {
        queue.push(pending);
        return;
      }
      const started = [pending];
      this.insertQueues.set(row.tenantId, started);
      void this.drainInserts(row.tenantId, started);
    });
  }

  /** Writes a tenant's queue, batch after batch, until it is empty; then forgets it. */
  private async drainInserts(tenantId: string, queue: PendingInsert[]): Promise<void> {
    let first = true;
    while (queue.length > 0) {
      // After a transaction, one turn of the event loop lets the recorders it released (and
      // messages consumed meanwhile) queue their next rows before the next batch is taken.
      if (!first || this.gathersFirstBatch) await new Promise<void>((resolve) => setImmediate(resolve));
      first = false;
      const batch = queue.splice(0, MAX_CHAIN_BATCH_ROWS);
      this.writes.transactions += 1;
      this.writes.rows += batch.length;
      const rows = batch.map((p) => p.row);
      const attempt: ChainBatchAttempt = { wantsLinks: this.recordedStatuses !== undefined };
      try {
        const recordedBefore = await this.requestsRecordedBefore(rows);
        await insertChainedBatch(this.client, rows, this.chainWrites, attempt);
        this.followCommitted(rows, attempt, recordedBefore);
        for (const p of batch) p.resolve(true);
        continue;
      } catch (error) {
        // The connection lost at COMMIT leaves the outcome unknown: when the batch was in fact
        // committed, its rows are this store's (not duplicates to report as such).
        if (await this.committedDespite(error, rows, attempt)) {
          // Whether the links were read before the loss is not known: read these from the trail.
          for (const row of rows) this.recordedStatuses?.forget(row);
          for (const p of batch) p.resolve(true);
          continue;
        }
        if (batch.length === 1) {
          // A lone row is its own outcome: not inserted means already recorded; any other error
          // is the caller's (rejected, so the event is retried).
          if (error instanceof ChainBatchConflictError) batch[0].resolve(false);
          else batch[0].reject(error);
          continue;
        }
        // Rolled back: each row again on its own below, which tells each caller its outcome.
        this.writes.batchesRolledBack += 1;
      }
      for (const p of batch) {
        try {
          p.resolve(await this.insert(p.row));
        } catch (error) {
          p.reject(error);
        }
      }
    }
    this.insertQueues.delete(tenantId);
  }

  /**
   * True when a batch that failed was committed all the same (chainBatchCommitted): only for an
   * error that may have come at or after COMMIT, not a duplicate or a refused row (rolled back for
   * sure). False when that cannot be told (the database still unreachable).
   */
  private async committedDespite(
    error: unknown,
    rows: readonly AuditInsertRow[],
    attempt: ChainBatchAttempt,
  ): Promise<boolean> {
    if (error instanceof ChainBatchConflictError || isPermanentDataError(error)) return false;
    if (attempt.recordHashes === undefined) return false;
    try {
      return await chainBatchCommitted(this.client, rows, attempt);
    } catch {
      return false;
    }
  }

  async trail(tenantId: string, requestId: string): Promise<readonly AuditRecord[]> {
    requireTenant(tenantId);
    // No stored id holds U+0000 (PostgreSQL cannot), and as a parameter it would fail the query.
    if (!isStorableText(requestId)) return [];
    const { rows } = await this.client.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_events
       WHERE tenant_id = $1 AND correlation_id = $2
       ORDER BY event_time, seq`,
      [tenantId, requestId],
    );
    return rows.map(toRecord);
  }

  async costByStep(tenantId: string, since?: Date): Promise<readonly StepCost[]> {
    requireTenant(tenantId);
    const { rows } = await this.client.query<CostRow>(
      `SELECT type, stage, model_id, count(*)::int AS events,
         coalesce(sum(prompt_tokens), 0)::float8 AS prompt_tokens,
         coalesce(sum(completion_tokens), 0)::float8 AS completion_tokens,
         coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
         coalesce(avg(latency_ms), 0)::float8 AS avg_latency_ms,
         coalesce(max(latency_ms), 0)::float8 AS max_latency_ms
       FROM audit_events
       WHERE tenant_id = $1 AND model_id IS NOT NULL AND NOT (type = ANY($2::text[]))
         AND NOT (type = ANY($4::text[]) AND payload->>'callId' IS NOT NULL)
         AND ($3::timestamptz IS NULL OR event_time >= $3::timestamptz)
       GROUP BY type, stage, model_id
       ORDER BY type, stage, model_id`,
      [tenantId, RESTATED_USAGE_TYPES, since ? since.toISOString() : null, CALL_RESTATING_TYPES],
    );
    return rows.map((r) => ({
      type: r.type,
      stage: r.stage,
      modelId: r.model_id,
      events: r.events,
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
      costUsd: r.cost_usd,
      avgLatencyMs: r.avg_latency_ms,
      maxLatencyMs: r.max_latency_ms,
    }));
  }

  async requestCost(tenantId: string, requestId: string): Promise<RequestCost | undefined> {
    requireTenant(tenantId);
    if (!isStorableText(requestId)) return undefined;
    return queryRequestCost(this.client, tenantId, requestId);
  }

  async usage(tenantId: string, window: UsageWindow): Promise<readonly UsageRow[]> {
    requireTenant(tenantId);
    return queryUsage(this.client, tenantId, window);
  }

  async reviewQueue(tenantId: string): Promise<readonly PendingReview[]> {
    requireTenant(tenantId);
    // A decision or result at the same instant as the review request counts as resolving it.
    const { rows } = await this.client.query<RecordRow>(
      `WITH latest AS (
         SELECT DISTINCT ON (correlation_id) ${RECORD_COLUMNS}, seq
         FROM audit_events
         WHERE tenant_id = $1 AND type = $2
         ORDER BY correlation_id, event_time DESC, seq DESC
       )
       SELECT * FROM latest r
       WHERE NOT EXISTS (
         SELECT 1 FROM audit_events e
         WHERE e.tenant_id = $1 AND e.correlation_id = r.correlation_id
           AND e.type = ANY($3::text[]) AND e.event_time >= r.event_time
       )
       ORDER BY r.event_time, r.seq`,
      [tenantId, ReviewRequestedEvent.type, REVIEW_RESOLVERS],
    );
    return rows.map((row) => ({ requestId: row.correlation_id, review: toRecord(row) }));
  }

  async deadLetters(tenantId: string, limit: number): Promise<readonly AuditRecord[]> {
    requireTenant(tenantId);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
      throw new AuditQueryError('invalid_limit', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
    const { rows } = await this.client.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_events
       WHERE tenant_id = $1 AND type = $2
       ORDER BY event_time DESC, seq DESC
       LIMIT $3`,
      [tenantId, DeadLetteredEvent.type, limit],
    );
    return rows.map(toRecord);
  }

  async routingOf(
    tenantId: string,
    requestId: string,
    exceptEventId: string,
  ): Promise<RecordedRouting | undefined> {
    requireTenant(tenantId);
    if (!isStorableText(requestId) || !isStorableText(exceptEventId)) return undefined;
    // A sole writer knows of most new requests that no routing of them is recorded yet.
    if (this.recordedStatuses?.recordsNoRouting(tenantId, requestId) === true) return undefined;
    // The trail index (tenant, correlation id, event time, seq) finds the request's few rows; only
    // the routing's two fields are read, not every stored event with its payload.
    const { rows } = await this.client.query<{ event_id: string; digest: string | null }>(
      `SELECT COALESCE(causation_id, event_id) AS event_id, payload ->> 'submissionDigest' AS digest
       FROM audit_events
       WHERE tenant_id = $1 AND correlation_id = $2 AND type = $3 AND causation_id IS DISTINCT FROM $4
       ORDER BY event_time, seq LIMIT 1`,
      [tenantId, requestId, RequestRoutedEvent.type, exceptEventId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { eventId: row.event_id, ...(typeof row.digest === 'string' && { submissionDigest: row.digest }) };
  }

  async eventById(tenantId: string, eventId: string): Promise<AuditRecord | undefined> {
    requireTenant(tenantId);
    if (!isStorableText(eventId)) return undefined;
    const { rows } = await this.client.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND event_id = $2 ORDER BY seq LIMIT 1`,
      [tenantId, eventId],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async expiredToolApprovals(now: Date, limit: number): Promise<readonly PendingReview[]> {
    // expiresAt is written by the generator as toISOString() (UTC, fixed width): compared as text,
    // so a malformed value in a stored payload never breaks the query.
    const { rows } = await this.client.query<RecordRow>(
      `WITH latest AS (
         SELECT DISTINCT ON (tenant_id, correlation_id) ${RECORD_COLUMNS}, seq
         FROM audit_events
         WHERE type = $1
         ORDER BY tenant_id, correlation_id, event_time DESC, seq DESC
       )
       SELECT * FROM latest r
       WHERE r.payload ->> 'kind' = 'tool-approval'
         AND r.payload -> 'toolApproval' ->> 'expiresAt' < $3
         AND NOT EXISTS (
           SELECT 1 FROM audit_events e
           WHERE e.tenant_id = r.tenant_id AND e.correlation_id = r.correlation_id
             AND e.type = ANY($2::text[]) AND e.event_time >= r.event_time
         )
       ORDER BY r.event_time, r.seq
       LIMIT $4`,
      [ReviewRequestedEvent.type, REVIEW_RESOLVERS, now.toISOString(), limit],
    );
    return rows.map((row) => ({ requestId: row.correlation_id, review: toRecord(row) }));
  }

  async reviewState(tenantId: string, requestId: string): Promise<ReviewState> {
    requireTenant(tenantId);
    if (!isStorableText(requestId)) return { status: 'unknown_request' };
    const { rows } = await this.client.query<RecordRow & { seq: string }>(
      `SELECT ${RECORD_COLUMNS}, seq::text AS seq FROM audit_events
       WHERE tenant_id = $1 AND correlation_id = $2 AND (type = $3 OR type = ANY($4::text[]))
       ORDER BY event_time DESC, seq DESC`,
      [tenantId, requestId, ReviewRequestedEvent.type, REVIEW_RESOLVERS],
    );
    const latestIndex = rows.findIndex((r) => r.type === ReviewRequestedEvent.type);
    if (latestIndex === -1) {
      const known = await this.client.query(
        'SELECT 1 FROM audit_events WHERE tenant_id = $1 AND correlation_id = $2 LIMIT 1',
        [tenantId, requestId],
      );
      return known.rows.length ? { status: 'not_requested' } : { status: 'unknown_request' };
    }
    const latest = rows[latestIndex];
    const reviewAt = new Date(latest.event_time).getTime();
    const resolver = rows.find(
      (r) => r.type !== ReviewRequestedEvent.type && new Date(r.event_time).getTime() >= reviewAt,
    );
    return resolver
      ? { status: 'resolved', resolvedBy: resolver.type }
      : { status: 'pending', review: toRecord(latest) };
  }

  async listRequests(tenantId: string, limit: number, cursor?: string): Promise<RequestPage> {
    requireTenant(tenantId);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new AuditQueryError('invalid_limit', `limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
    const before = cursor === undefined ? null : decodeCursor(cursor);
    const { rows } = await this.client.query<SummaryRow>(
      `SELECT correlation_id, min(seq)::text AS first_seq, min(event_time) AS first_at, max(event_time) AS last_at,
         count(*)::int AS events,
         (array_agg(type ORDER BY event_time DESC, seq DESC))[1] AS last_type,
         max(event_time) FILTER (WHERE type = $4) AS completed_at,
         max(event_time) FILTER (WHERE type = $5) AS failed_at,
         max(event_time) FILTER (WHERE type = $6) AS review_at,
         max(event_time) FILTER (WHERE type = $7) AS decided_at
       FROM audit_events
       WHERE tenant_id = $1
       GROUP BY correlation_id
       HAVING ($2::bigint IS NULL OR min(seq) < $2::bigint)
         AND bool_or(type <> ALL($8::text[]))
       ORDER BY min(seq) DESC
       LIMIT $3`,
      [
        tenantId,
        before,
        limit + 1,
        RequestCompletedEvent.type,
        RequestFailedEvent.type,
        ReviewRequestedEvent.type,
        ReviewDecidedEvent.type,
        DOCUMENT_EVENT_TYPES,
      ],
    );
    const page = rows.slice(0, limit);
    return {
      requests: page.map((r) => ({
        requestId: r.correlation_id,
        status: statusOf(r),
        firstEventAt: isoTime(r.first_at),
        lastEventAt: isoTime(r.last_at),
        lastEventType: r.last_type,
        events: r.events,
      })),
      ...(rows.length > limit && { nextCursor: encodeCursor(page[page.length - 1].first_seq) }),
    };
  }

  /**
   * Requests of every tenant that were submitted and are neither finished (no RequestCompleted or
   * RequestFailed) nor waiting for a review decision (a ReviewRequested without a later decision),
   * oldest first, at most `limit`: on a bus that keeps nothing across a restart (embedded mode),
   * the requests a stopped process was still working on, which no stage will take up again. Each
   * with its last recorded event (the cause of what is published about it) and, when `pathTypes`
   * are given, its last recorded event of one of those types (the one to take it up again from).
   */
  async unfinishedRequests(
    limit: number,
    pathTypes: readonly string[] = [],
  ): Promise<readonly UnfinishedRequest[]> {
    const { rows } = await this.client.query<{
      tenant_id: string;
      correlation_id: string;
      last_event_id: string;
      last_path_event_id: string | null;
      submitted_at: Date | string;
    }>(
      `SELECT tenant_id, correlation_id,
              (array_agg(event_id ORDER BY event_time DESC, seq DESC))[1] AS last_event_id,
              (array_agg(event_id ORDER BY event_time DESC, seq DESC)
                 FILTER (WHERE type = ANY($6::text[])))[1] AS last_path_event_id,
              min(event_time) FILTER (WHERE type = $1) AS submitted_at
         FROM audit_events
        GROUP BY tenant_id, correlation_id
       HAVING bool_or(type = $1)
          AND NOT bool_or(type = ANY($2::text[]))
          AND (max(event_time) FILTER (WHERE type = $3) IS NULL
               OR max(event_time) FILTER (WHERE type = $4) >= max(event_time) FILTER (WHERE type = $3))
        ORDER BY min(seq)
        LIMIT $5`,
      [
        RequestSubmittedEvent.type,
        [RequestCompletedEvent.type, RequestFailedEvent.type],
        ReviewRequestedEvent.type,
        ReviewDecidedEvent.type,
        limit,
        [...pathTypes],
      ],
    );
    const unfinished: UnfinishedRequest[] = [];
    for (const row of rows) {
      const last = await this.eventById(row.tenant_id, row.last_event_id);
      if (!last) continue;
      const lastPath =
        row.last_path_event_id === null
          ? undefined
          : row.last_path_event_id === row.last_event_id
            ? last
            : await this.eventById(row.tenant_id, row.last_path_event_id);
      unfinished.push({
        tenantId: row.tenant_id,
        requestId: row.correlation_id,
        lastEvent: last,
        ...(lastPath && { lastPathEvent: lastPath }),
        submittedAt: new Date(row.submitted_at).toISOString(),
      });
    }
    return unfinished;
  }

  /**
   * The first and the last recorded events whose payload carries a sealed PII mapping (`_piiVault`,
   * see StoredPayloadMasking), of any tenant: enough to tell, at start, whether the trail was
   * sealed under the key the process runs with. Empty when none is.
   */
  async sealedRecordSamples(): Promise<readonly AuditRecord[]> {
    const { rows } = await this.client.query<{ tenant_id: string; event_id: string }>(
      `(SELECT tenant_id, event_id FROM audit_events WHERE payload ? '_piiVault' ORDER BY seq LIMIT 1)
       UNION
       (SELECT tenant_id, event_id FROM audit_events WHERE payload ? '_piiVault' ORDER BY seq DESC LIMIT 1)`,
      [],
    );
    const records: AuditRecord[] = [];
    for (const row of rows) {
      const record = await this.eventById(row.tenant_id, row.event_id);
      if (record) records.push(record);
    }
    return records;
  }

  async requestStatus(tenantId: string, requestId: string): Promise<RequestStatusView | undefined> {
    requireTenant(tenantId);
    return (
      this.recordedStatuses?.view(tenantId, requestId) ?? this.requestStatusFromTrail(tenantId, requestId)
    );
  }

  /** requestStatus read from the trail in one statement, whether or not this store follows the request. */
  async requestStatusFromTrail(tenantId: string, requestId: string): Promise<RequestStatusView | undefined> {
    requireTenant(tenantId);
    // As in trail(): an id PostgreSQL cannot hold is unknown, not a store outage.
    if (!isStorableText(requestId)) return undefined;
    const { rows } = await this.client.query<RequestStatusRow>(
      REQUEST_STATUS_SQL,
      requestStatusParams(tenantId, requestId),
    );
    return rows.length === 0 ? undefined : toRequestStatusView(requestId, rows[0]);
  }

  /** Recomputes the tenants' hash chains (see verifyAuditChains); reads only. */
  verifyChains(options: VerifyOptions = {}): Promise<readonly TenantChainReport[]> {
    return verifyAuditChains(this.client, options);
  }

  /** Removes payloads past the policy's ages, keeping the chain verifiable (see removeExpiredPayloads). */
  async removeExpiredPayloads(
    policy: RetentionPolicy,
    options: RetentionOptions = {},
  ): Promise<RetentionReport> {
    // Tombstones change what a status shows (its output): statuses are read from the trail while
    // the job runs, and requests followed before it are not followed again.
    const resume = this.recordedStatuses?.suspend();
    try {
      return await removeExpiredPayloads(this.client, policy, options);
    } finally {
      resume?.();
    }
  }

  async ping(): Promise<void> {
    // Reads no row, but checks the connection, the table and the SELECT privilege on it.
    await this.client.query('SELECT 1 FROM audit_events LIMIT 0');
  }

  async close(): Promise<void> {
    await this.shutdown();
  }
}
