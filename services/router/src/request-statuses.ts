import type { AuditStore, RequestStatusView } from '@llmbus/audit';
import type { ReadinessCheck } from '@llmbus/http-nest';
import type { Logger } from '@llmbus/observability';
import { LRUCache } from 'lru-cache';
import { RecentAcceptances } from './recent-acceptances';
import type { EarlierRouting } from './request-id-reuse';
import { requestKey } from './request-key';

/**
 * The little of the audit store the router reads: request statuses, whether it answers, and
 * (optional) a recorded event by id, which is how a POST finds the body an earlier POST of the same
 * request id submitted through any replica, and a request's recorded routing, which is how the
 * consumer finds an earlier routing of a request id re-sent under a new event id.
 */
export type RequestStatusSource = Pick<AuditStore, 'requestStatus' | 'ping'> &
  Partial<Pick<AuditStore, 'eventById' | 'routingOf' | 'onRecorded'>>;

/** Seconds a client is asked to wait (`Retry-After`) when the audit store does not answer. */
export const STATUS_RETRY_AFTER_SECONDS = 5;

/** The audit store did not answer a status read; the request may well exist, so this is never a 404. */
export class StatusStoreUnavailableError extends Error {
  readonly code = 'status_store_unavailable';
  readonly retryAfterSeconds = STATUS_RETRY_AFTER_SECONDS;

  constructor(cause: unknown) {
    super(
      `request statuses are read from the audit store, which is not answering right now; retry in ${STATUS_RETRY_AFTER_SECONDS} s`,
      { cause },
    );
    this.name = 'StatusStoreUnavailableError';
  }
}

/**
 * The router's answer to `GET /v1/requests/:id`: the audit trail's status of the request, or
 * `accepted` for one this replica accepted before the auditor recorded it. Holds no state that a
 * restart loses beyond that short bridge, so a new replica serves every status from its first
 * request. Also the router's readiness: not ready until the audit store has answered once.
 */
export class RequestStatuses implements ReadinessCheck {
  private answered = false;
  /** Requests this replica's consumer routed lately, by tenant and request id (10 minutes, 10 000 at most). */
  private readonly routings = new LRUCache<string, EarlierRouting>({ max: 10_000, ttl: 600_000 });
  private readonly recordedListeners = new Map<string, Set<(type: string) => void>>();
  private unsubscribeStore?: () => void;

  constructor(
    private readonly store: RequestStatusSource,
    private readonly logger: Logger,
    private readonly recent = new RecentAcceptances(),
  ) {}

  /** Remembers that the consumer routed the tenant's request from event `eventId`, whose payload has `submissionDigest`. */
  routed(tenantId: string, requestId: string, eventId: string, submissionDigest: string): void {
    this.routings.set(requestKey(tenantId, requestId), { eventId, submissionDigest });
  }

  /**
   * The routing of the tenant's request id from another event than `eventId` (the one being
   * handled): from this replica's recent routings (a request id's events share a partition, so
   * one replica sees them in order), else from the audit trail's RequestRouted record (one
   * indexed lookup of that row: this runs for nearly every new request). Undefined
   * when the id was not routed yet, only from this very event (a redelivery or a dead letter's
   * replay keeps its event id), or the audit store does not answer (logged; the check then
   * narrows to this replica's memory, since ingestion does not depend on the store).
   */
  async earlierRouting(
    tenantId: string,
    requestId: string,
    eventId: string,
  ): Promise<EarlierRouting | undefined> {
    const recent = this.routings.get(requestKey(tenantId, requestId));
    if (recent !== undefined) return recent.eventId === eventId ? undefined : recent;
    if (this.store.routingOf === undefined) return undefined;
    try {
      return await this.store.routingOf(tenantId, requestId, eventId);
    } catch (error) {
      this.logger.warn(
        { err: error, tenantId, correlationId: requestId },
        "audit store did not answer a request-id check; only this replica's recent routings were compared",
      );
      return undefined;
    }
  }

  /**
   * Calls `listener` with the type of each event of the tenant's request the store records in this
   * process (embedded mode, where the router reads the auditor's own store); never called when the
   * store only reads what another process writes. Returns the unsubscribe.
   */
  onRecorded(tenantId: string, requestId: string, listener: (type: string) => void): () => void {
    const subscribe = this.store.onRecorded?.bind(this.store);
    if (subscribe === undefined) return () => undefined;
    const key = requestKey(tenantId, requestId);
    let listeners = this.recordedListeners.get(key);
    if (listeners === undefined) {
      listeners = new Set();
      this.recordedListeners.set(key, listeners);
    }
    listeners.add(listener);
    // One store listener while anyone waits, dispatching by tenant and request.
    this.unsubscribeStore ??= subscribe((tenant, request, type) => {
      for (const wake of this.recordedListeners.get(requestKey(tenant, request)) ?? []) wake(type);
    });
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.recordedListeners.delete(key);
      if (this.recordedListeners.size === 0) {
        this.unsubscribeStore?.();
        this.unsubscribeStore = undefined;
      }
    };
  }

  /** Bridges the auditor's lag for a request this replica has just published (with its body's digest). */
  accepted(tenantId: string, requestId: string, submissionDigest?: string): void {
    this.recent.remember(tenantId, requestId, submissionDigest);
  }

  /**
   * The digest of the body already submitted under the tenant's request id, whose RequestSubmitted
   * has the event id `eventId`: from this replica's recent acceptances, else from the audit trail
   * (what any replica published, once the auditor recorded it). Undefined when the id is new, was
   * submitted without a digest (straight to Kafka), or the audit store does not answer: ingestion
   * does not depend on the store, so a store outage only narrows the check to this replica.
   */
  async submittedDigest(tenantId: string, requestId: string, eventId: string): Promise<string | undefined> {
    const recent = this.recent.submissionDigest(tenantId, requestId);
    if (recent !== undefined || this.store.eventById === undefined) return recent;
    try {
      const record = await this.store.eventById(tenantId, eventId);
      const digest = record?.envelope.data.submissionDigest;
      return typeof digest === 'string' ? digest : undefined;
    } catch (error) {
      this.logger.warn(
        { err: error, tenantId, correlationId: requestId },
        "audit store did not answer a request-id check; only this replica's recent submissions were compared",
      );
      return undefined;
    }
  }

  /**
   * The status of the tenant's request; undefined when neither the audit trail nor this replica
   * knows it (another tenant's request included).
   * @throws StatusStoreUnavailableError when the audit store does not answer.
   */
  async get(tenantId: string, requestId: string): Promise<RequestStatusView | undefined> {
    let recorded: RequestStatusView | undefined;
    try {
      recorded = await this.store.requestStatus(tenantId, requestId);
    } catch (error) {
      this.logger.warn(
        { err: error, tenantId, correlationId: requestId },
        'audit store did not answer a status read',
      );
      throw new StatusStoreUnavailableError(error);
    }
    this.markAnswered();
    return recorded ?? this.recent.get(tenantId, requestId);
  }

  /**
   * Not ready until the audit store has answered once. After that a store outage does not make
   * the router unready: it would take POST ingestion, which needs no store, out of service too;
   * status reads answer 503 with Retry-After instead.
   */
  async notReadyReason(): Promise<string | undefined> {
    if (this.answered) return undefined;
    try {
      await this.store.ping();
    } catch (error) {
      this.logger.warn(
        { err: error },
        'the audit store does not answer yet (DATABASE_URL): GET /v1/requests/:id answers 503 until it does',
      );
      return 'request statuses are read from the audit store, which does not answer yet';
    }
    this.markAnswered();
    return undefined;
  }

  private markAnswered(): void {
    if (this.answered) return;
    this.answered = true;
    this.logger.info('the audit store answers: request statuses are served');
  }
}
