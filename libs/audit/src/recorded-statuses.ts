import {
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { LRUCache } from 'lru-cache';
import type { AuditInsertRow } from './audit-insert-row';
import { isoTime } from './iso-time';
import { REQUEST_STATUS_RANKS, REQUEST_STATUS_PLACED_TYPES, type RequestStatusView } from './request-status';

/**
 * What the store learnt of a row it has just committed, beside the row itself: its global `seq`
 * and its `event_time` as stored (UTC, microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as the chain
 * renders it).
 */
export interface CommittedLink {
  readonly seq: bigint;
  readonly eventTime: string;
}

/** Where an event sits in REQUEST_STATUS_SQL's orderings: event time, then seq. */
interface Ordered {
  readonly time: string;
  readonly seq: bigint;
  /** `time` as the view's updatedAt, once a view was answered with it. */
  updatedAt?: string;
}

/** The view's fields an outcome event sets, read from its payload as the SQL reads them. */
interface OutcomePart extends Ordered {
  readonly type: string;
  /** `payload -> 'workflow'` of a completion, when the payload has the key (null included). */
  readonly workflow?: { readonly value: unknown };
  readonly output: unknown;
  readonly citations: unknown;
  readonly acceptedBy: string | null;
  readonly failure: unknown;
  readonly vault: unknown;
  readonly source: string;
  readonly id: string;
}

/** One request's status events, reduced to what REQUEST_STATUS_SQL selects of them. */
interface StatusState {
  outcome?: OutcomePart;
  progress?: Ordered & { readonly rank: number };
  /** The latest event carrying `context.workflow`; `workflow` null when its payload has none. */
  placed?: Ordered & { readonly workflow: unknown };
  /** The latest ReviewRequested; `reason` null when its payload has none. */
  review?: Ordered & { readonly reason: string | null };
  /** Whether a RequestRouted row of the request was committed. */
  routed?: boolean;
}

/** A payload this reduction does not reproduce exactly: the request is left to the store. */
class Unreproducible extends Error {}

/** Stored event times as the chain renders them: fixed width, so text order is time order. */
const STORED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const own = (value: Record<string, unknown>, key: string): boolean => Object.hasOwn(value, key);

/** `payload -> key`: the value, or null (SQL NULL) when the payload has no such key. */
function arrow(payload: Record<string, unknown>, key: string): unknown {
  return own(payload, key) ? payload[key] : null;
}

/** `payload ->> key` for a key the view reads as text: only a string or nothing is reproduced. */
function textArrow(payload: Record<string, unknown>, key: string): string | null {
  const value = arrow(payload, key);
  if (value === null || typeof value === 'string') return value;
  throw new Unreproducible();
}

/**
 * A jsonb value as the driver hands it back: objects' keys in jsonb's order (shorter first, then
 * by their UTF-8 bytes). A top-level JSON string is refused: toRequestStatusView takes a string
 * for unparsed text.
 */
function asJsonb(value: unknown, top = true): unknown {
  if (top && typeof value === 'string') throw new Unreproducible();
  if (Array.isArray(value)) return value.map((item) => asJsonb(item, false));
  if (!isObject(value)) return value;
  const keys = Object.keys(value).map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }));
  keys.sort((a, b) => a.bytes.length - b.bytes.length || Buffer.compare(a.bytes, b.bytes));
  const ordered: Record<string, unknown> = {};
  for (const { key } of keys) ordered[key] = asJsonb(value[key], false);
  return ordered;
}

const before = (a: Ordered, b: Ordered): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

/**
 * The statuses of requests this process recorded from their first event on, kept as the store
 * commits their rows, so that `GET /v1/requests/:id` (and its long poll, woken by the recording)
 * is answered without reading the trail. Only for a store that is its trail's sole writer (PGlite
 * in embedded mode): there no row of a request can be committed that the store does not see.
 *
 * A request is followed when its first row here is its first in the trail: known without a read
 * while the trail was empty when the store opened and no request was forgotten for want of room
 * since, else told by the store's probe before the transaction (see unsettledRequests); its view is then reduced from its rows exactly as REQUEST_STATUS_SQL computes it
 * (same orderings on event time and seq, same fields, jsonb's key order), and is answered
 * identically (pglite-audit-store.spec compares both for every state). A request recorded before
 * (an earlier run on the same data directory), one evicted from the bounded map, one with a row
 * stored as a sanitised copy or with a payload the reduction does not reproduce (a field of an
 * unexpected type) is never followed again: its status is read from the trail.
 */
export class RecordedStatuses {
  private readonly states: LRUCache<string, StatusState>;
  /** Requests never to follow again in this process (see the class comment), bounded too. */
  private readonly dropped: LRUCache<string, true>;
  private suspended = 0;
  /** Whether every row of the trail was committed by this object (set by the store when it opens). */
  private trailWasEmpty = false;
  /** Whether some request's rows may have been recorded that neither map holds any more. */
  private forgetful = false;

  /** @param max requests followed at most (least recently recorded or read out first). */
  constructor(max = 10_000) {
    // An evicted request may still get rows: without its earlier ones it is never followed again.
    this.states = new LRUCache({
      max,
      dispose: (_state, key, reason) => {
        if (reason === 'evict') this.dropped.set(key, true);
      },
    });
    this.dropped = new LRUCache({
      max,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.forgetful = true;
      },
    });
  }

  /** Requests currently followed. */
  get size(): number {
    return this.states.size;
  }

  /** Tells that the trail held no row when the store opened: requests new here need no probe. */
  trailEmptyAtStart(): void {
    this.trailWasEmpty = true;
  }

  /**
   * The request ids of `rows` (one tenant's) whose first row here may not be their first in the
   * trail: the store reads which of them the trail already holds before writing the rows, and
   * passes the answer to `committed`. Empty while this object has seen every row of the trail.
   */
  unsettledRequests(rows: readonly AuditInsertRow[]): string[] {
    if (this.suspended > 0 || (this.trailWasEmpty && !this.forgetful)) return [];
    const ids = new Set<string>();
    for (const row of rows) {
      const key = keyOf(row.tenantId, row.correlationId);
      if (!this.states.has(key) && !this.dropped.has(key)) ids.add(row.correlationId);
    }
    return [...ids];
  }

  /**
   * Takes in a committed row of the store's own transaction (see CommittedLink). `recordedBefore`:
   * the ids of unsettledRequests the trail held before the transaction (undefined: none were asked).
   */
  committed(row: AuditInsertRow, link: CommittedLink, recordedBefore?: ReadonlySet<string>): void {
    const key = keyOf(row.tenantId, row.correlationId);
    let state = this.states.get(key);
    if (state === undefined) {
      if (this.suspended > 0 || this.dropped.has(key)) return;
      const probed = recordedBefore !== undefined;
      if (probed ? recordedBefore.has(row.correlationId) : !this.trailWasEmpty || this.forgetful) {
        this.dropped.set(key, true);
        return;
      }
      state = {};
      this.states.set(key, state);
    }
    if (row.sanitisedReason !== null || !STORED_TIME.test(link.eventTime)) return this.forget(row);
    try {
      apply(state, row, link);
    } catch (error) {
      if (!(error instanceof Unreproducible)) throw error;
      this.forget(row);
    }
  }

  /** Stops following the row's request: its status is read from the trail from now on. */
  forget(row: Pick<AuditInsertRow, 'tenantId' | 'correlationId'>): void {
    const key = keyOf(row.tenantId, row.correlationId);
    this.states.delete(key);
    this.dropped.set(key, true);
  }

  /**
   * Forgets every request and follows none until the returned resume is called: for writes that
   * change recorded rows (retention replacing payloads by tombstones).
   */
  suspend(): () => void {
    this.suspended += 1;
    // Requests followed until now may get rows again: from now on the store probes new ones.
    this.forgetful = true;
    this.states.clear();
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      this.suspended -= 1;
      this.states.clear();
    };
  }

  /**
   * True when the trail certainly holds no RequestRouted row of the request: it is followed and
   * none was committed, or this object has seen every row of the trail and none of the request.
   * False when that is not known (read the trail then).
   */
  recordsNoRouting(tenantId: string, requestId: string): boolean {
    if (this.suspended > 0) return false;
    const key = keyOf(tenantId, requestId);
    const state = this.states.get(key);
    if (state !== undefined) return state.routed !== true;
    return this.trailWasEmpty && !this.forgetful && !this.dropped.has(key);
  }

  /**
   * The status of a followed request, as the store's read would answer it; undefined when the
   * request is not followed (or has no status event yet): read the trail then.
   */
  view(tenantId: string, requestId: string): RequestStatusView | undefined {
    if (this.suspended > 0) return undefined;
    const state = this.states.get(keyOf(tenantId, requestId));
    if (state === undefined) return undefined;
    const { outcome: o, progress: p, placed, review } = state;
    if (o === undefined && p === undefined) return undefined;
    const completed = o?.type === RequestCompletedEvent.type;
    const failed = o?.type === RequestFailedEvent.type;
    const status = completed
      ? 'completed'
      : failed
        ? 'failed'
        : p?.rank === 2
          ? 'review'
          : p?.rank === 1
            ? 'routed'
            : 'accepted';
    const workflow = completed && o?.workflow !== undefined ? o.workflow.value : (placed?.workflow ?? null);
    const output = completed ? o.output : null;
    const citations = completed ? o.citations : null;
    const acceptedBy = completed ? o.acceptedBy : null;
    const failure = failed ? o.failure : null;
    const reason = review?.reason ?? null;
    const latest = (o ?? p)!;
    latest.updatedAt ??= isoTime(latest.time);
    return {
      requestId,
      status,
      updatedAt: latest.updatedAt,
      ...(workflow !== null && { workflow: structuredClone(workflow) as RequestStatusView['workflow'] }),
      ...(output !== null && { output: structuredClone(output) as RequestStatusView['output'] }),
      ...(citations !== null && { citations: structuredClone(citations) as string[] }),
      ...(acceptedBy !== null && { acceptedBy: acceptedBy as RequestStatusView['acceptedBy'] }),
      ...(failure !== null && { failure: structuredClone(failure) as RequestStatusView['failure'] }),
      ...(reason !== null && { reviewReason: reason }),
      ...(o !== undefined &&
        o.vault !== null && {
          sealedOutcome: { source: o.source, id: o.id, vault: structuredClone(o.vault) },
        }),
    };
  }
}

function keyOf(tenantId: string, requestId: string): string {
  return `${tenantId}\u0000${requestId}`;
}

/** Folds one row into its request's state, as REQUEST_STATUS_SQL's CTEs would pick it. */
function apply(state: StatusState, row: AuditInsertRow, link: CommittedLink): void {
  const rank = REQUEST_STATUS_RANKS.get(row.type);
  if (rank === undefined) return;
  if (row.type === RequestRoutedEvent.type) state.routed = true;
  const at: Ordered = { time: link.eventTime, seq: link.seq };
  const payload = JSON.parse(row.payload) as unknown;
  if (!isObject(payload)) throw new Unreproducible();
  if (rank === 3) {
    // outcome: the first by event time, then seq.
    if (state.outcome === undefined || before(at, state.outcome)) state.outcome = outcomeOf(row, payload, at);
  } else {
    // progress: the highest rank, then the latest.
    const p = state.progress;
    if (p === undefined || rank > p.rank || (rank === p.rank && before(p, at)))
      state.progress = { ...at, rank };
  }
  if (REQUEST_STATUS_PLACED_TYPES.has(row.type) && (state.placed === undefined || before(state.placed, at))) {
    const context = arrow(payload, 'context');
    const workflow = isObject(context) ? arrow(context, 'workflow') : null;
    state.placed = { ...at, workflow: workflow === null ? null : asJsonb(workflow) };
  }
  if (row.type === ReviewRequestedEvent.type && (state.review === undefined || before(state.review, at)))
    state.review = { ...at, reason: textArrow(payload, 'reason') };
}

function outcomeOf(row: AuditInsertRow, payload: Record<string, unknown>, at: Ordered): OutcomePart {
  const completed = row.type === RequestCompletedEvent.type;
  const jsonbOrNull = (value: unknown) => (value === null ? null : asJsonb(value));
  let failure: unknown = null;
  if (row.type === RequestFailedEvent.type) {
    // jsonb_build_object('code', …, 'message', …, 'stage', …, 'details', coalesce(…, '[]')), in jsonb key order.
    const part = (key: string) => {
      const value = arrow(payload, key);
      return value === null ? null : asJsonb(value, false);
    };
    failure = {
      code: part('code'),
      stage: part('stage'),
      details: own(payload, 'details') ? part('details') : [],
      message: part('message'),
    };
  }
  const vault = arrow(payload, '_piiVault');
  return {
    ...at,
    type: row.type,
    ...(completed && own(payload, 'workflow') && { workflow: { value: jsonbOrNull(payload.workflow) } }),
    output: completed ? jsonbOrNull(arrow(payload, 'output')) : null,
    citations: completed ? jsonbOrNull(arrow(payload, 'citations')) : null,
    acceptedBy: completed ? textArrow(payload, 'acceptedBy') : null,
    failure,
    vault: jsonbOrNull(vault),
    source: row.source,
    id: row.eventId,
  };
}
