import type { RequestStatusView } from '@llmbus/audit';
import { RequestCompletedEvent, RequestFailedEvent, ReviewRequestedEvent } from '@llmbus/contracts';
import type { DraftHub } from './draft-hub';
import type { RequestStatuses } from './request-statuses';

/** Longest `waitMs` a status read may ask for, in milliseconds. */
export const MAX_STATUS_WAIT_MS = 30_000;

/**
 * While no outcome is announced, the trail is read again this often anyway (ms): an announcement
 * this replica missed (its stream tail rejoining after a broker outage) then delays the answer,
 * it never loses it.
 */
const UNANNOUNCED_RECHECK_MS = 5_000;

/** Types whose recording can settle a waiting read (see settles). */
const SETTLING_TYPES: ReadonlySet<string> = new Set([
  RequestCompletedEvent.type,
  RequestFailedEvent.type,
  ReviewRequestedEvent.type,
]);

/** Pauses between reads of the trail once an outcome is announced (the auditor lags by ms). */
const ANNOUNCED_PAUSE_MS = { first: 5, max: 200 };

/**
 * Whether a long poll that found the request in `initial` answers with `view`: once the request
 * completed or failed, or went to human review since (a request already in review waits for its
 * outcome, so that a client repeating the call does not spin).
 */
function settles(initial: RequestStatusView['status'], view: RequestStatusView): boolean {
  return (
    view.status === 'completed' ||
    view.status === 'failed' ||
    (view.status === 'review' && initial !== 'review')
  );
}

/**
 * `GET /v1/requests/:id?waitMs=N`: the request's status, answered as soon as the request completes,
 * fails or goes to human review, or after `waitMs` milliseconds with where it stands then. Nothing
 * is polled while the request runs: where the store records in this process (embedded mode) the
 * recording of an outcome wakes the wait; elsewhere the outcome announcements the stream endpoint
 * follows (this replica's DraftHub, which sees every replica's results) do, and the trail is read
 * again, backing off, until the auditor has recorded it (and every UNANNOUNCED_RECHECK_MS anyway).
 * Undefined when the tenant has no such request. `stopping`, once aborted (the router stopping),
 * ends the wait early with the status as it stands, so that the client gets an answer and the
 * server's close does not wait the whole `waitMs`.
 * @throws StatusStoreUnavailableError when the audit store does not answer.
 */
export async function waitForStatus(
  statuses: RequestStatuses,
  drafts: DraftHub,
  tenantId: string,
  requestId: string,
  waitMs: number,
  stopping?: AbortSignal,
): Promise<RequestStatusView | undefined> {
  if (waitMs <= 0 || stopping?.aborted) return statuses.get(tenantId, requestId);
  const deadline = Date.now() + Math.min(waitMs, MAX_STATUS_WAIT_MS);
  let announced = false;
  let recordedHere = false;
  // A wake that came while the trail was being read is kept, so that it is not lost.
  let signalled = false;
  let resume = (): void => undefined;
  const signal = () => {
    signalled = true;
    resume();
  };
  // Subscribed before the first read, so that an outcome published in between is not missed.
  const { unsubscribe } = drafts.subscribe(tenantId, requestId, (item) => {
    // Where this process records the request's events, the recording itself wakes the wait.
    if (item.kind !== 'status' || recordedHere) return;
    announced = true;
    signal();
  });
  const stopRecorded = statuses.onRecorded(tenantId, requestId, (type) => {
    recordedHere = true;
    announced = false;
    if (SETTLING_TYPES.has(type)) signal();
  });
  stopping?.addEventListener('abort', signal);
  try {
    let view = await statuses.get(tenantId, requestId);
    if (view === undefined) return undefined;
    const initial = view.status;
    let pause = ANNOUNCED_PAUSE_MS.first;
    while (!settles(initial, view) && !stopping?.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (!signalled) {
        const ms = Math.min(announced ? pause : UNANNOUNCED_RECHECK_MS, left);
        if (announced) pause = Math.min(pause * 2, ANNOUNCED_PAUSE_MS.max);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          resume = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        resume = () => undefined;
      }
      signalled = false;
      view = (await statuses.get(tenantId, requestId)) ?? view;
    }
    return view;
  } finally {
    unsubscribe();
    stopRecorded();
    stopping?.removeEventListener('abort', signal);
  }
}
