// Trail completeness, read from the auditor's PostgreSQL store: a request's trail must hold its
// submitted event and every final outcome event the result/review topics carried for it.
import {
  RequestCompletedEvent,
  RequestFailedEvent,
  RequestSubmittedEvent,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { Client } from 'pg';
import type { OutcomeKind } from './outcome-ledger';

const TYPE_OF_KIND: Readonly<Record<OutcomeKind, string>> = {
  completed: RequestCompletedEvent.type,
  failed: RequestFailedEvent.type,
  review: ReviewRequestedEvent.type,
};

/** What a trail lacks: the event types missing from the audit store. */
export interface TrailGap {
  readonly requestId: string;
  readonly missing: readonly string[];
  /** Event types the store does hold for the request. */
  readonly present: readonly string[];
}

/** Event types recorded for each request id of one tenant. */
async function recordedTypes(
  databaseUrl: string,
  tenant: string,
  requestIds: readonly string[],
): Promise<Map<string, Set<string>>> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ correlation_id: string; type: string }>(
      'SELECT DISTINCT correlation_id, type FROM audit_events WHERE tenant_id = $1 AND correlation_id = ANY($2::text[])',
      [tenant, [...requestIds]],
    );
    const types = new Map<string, Set<string>>();
    for (const row of rows) {
      const set = types.get(row.correlation_id) ?? new Set<string>();
      set.add(row.type);
      types.set(row.correlation_id, set);
    }
    return types;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The gaps of each request's trail: `expected` maps a request id to the outcome kinds seen for it
 * (the submitted event is always expected). Polls until no gap is left or the deadline passes (the
 * auditor records asynchronously), and returns the gaps left then.
 */
export async function trailGaps(
  databaseUrl: string,
  tenant: string,
  expected: ReadonlyMap<string, readonly OutcomeKind[]>,
  timeoutMs: number,
): Promise<TrailGap[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let gaps: TrailGap[];
    try {
      const recorded = await recordedTypes(databaseUrl, tenant, [...expected.keys()]);
      gaps = [];
      for (const [requestId, kinds] of expected) {
        const present = recorded.get(requestId) ?? new Set<string>();
        const wanted = [RequestSubmittedEvent.type, ...kinds.map((k) => TYPE_OF_KIND[k])];
        const missing = wanted.filter((type) => !present.has(type));
        if (missing.length > 0) gaps.push({ requestId, missing, present: [...present] });
      }
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
      continue;
    }
    if (gaps.length === 0 || Date.now() > deadline) return gaps;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
