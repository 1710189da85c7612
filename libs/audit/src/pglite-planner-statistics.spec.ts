import { PgliteAuditStore } from './pglite-audit-store';
import {
  ANALYZE_SCALE_FACTOR,
  ANALYZE_THRESHOLD_ROWS,
  PglitePlannerStatistics,
} from './pglite-planner-statistics';

describe('PglitePlannerStatistics', () => {
  it('analyses once more than the threshold plus the scale factor of the rows at the last analysis were written', async () => {
    let calls = 0;
    const statistics = new PglitePlannerStatistics(async () => {
      calls += 1;
    }, 1000);
    const first = ANALYZE_THRESHOLD_ROWS + ANALYZE_SCALE_FACTOR * 1000;
    statistics.rowsWritten(first);
    expect(calls).toBe(0);
    statistics.rowsWritten(1);
    await statistics.settled();
    expect(calls).toBe(1);
    // The next threshold counts the rows analysed too: 1000 + first + 1.
    statistics.rowsWritten(ANALYZE_THRESHOLD_ROWS + Math.floor(ANALYZE_SCALE_FACTOR * (1000 + first + 1)));
    await statistics.settled();
    expect(calls).toBe(1);
    statistics.rowsWritten(1);
    await statistics.settled();
    expect([calls, statistics.analyses()]).toEqual([2, 2]);
  });

  it('runs one analysis at a time and keeps the error of a failed one, trying again at the next threshold', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const statistics = new PglitePlannerStatistics(() => {
      calls += 1;
      return new Promise<void>((_resolve, reject) => {
        release = () => reject(new Error('database is closing'));
      });
    }, 0);
    statistics.rowsWritten(ANALYZE_THRESHOLD_ROWS + 1);
    statistics.rowsWritten(ANALYZE_THRESHOLD_ROWS + 1);
    expect(calls).toBe(1);
    release();
    await statistics.settled();
    expect((statistics.lastError as Error).message).toBe('database is closing');
    expect(statistics.analyses()).toBe(0);
    statistics.rowsWritten(1);
    expect(calls).toBe(1);
    statistics.rowsWritten(ANALYZE_THRESHOLD_ROWS + 10);
    expect(calls).toBe(2);
    release();
    await statistics.settled();
  });
});

const envelope = (k: number) => ({
  id: `e-${k}`,
  source: '/llmbus/router',
  type: 'llmbus.request.submitted',
  specversion: '1.0' as const,
  time: new Date().toISOString(),
  correlationid: `r-${k}`,
  tenantid: 'acme',
  schemaversion: 1,
  data: { requestId: `r-${k}`, submissionDigest: 'd' },
});
const position = (k: number) => ({ topic: 'orchestration.request.v1', partition: 0, offset: String(k) });

// PGlite in this process (WASM, in memory), as the other PgliteAuditStore specs.
jest.setTimeout(120_000);
describe('PgliteAuditStore planner statistics', () => {
  it('plans the event-id read prepared on a small trail again on its index once the trail grew', async () => {
    const store = await PgliteAuditStore.open();
    try {
      // Prepared while the trail holds a few rows, and run past the plan cache's five custom plans.
      for (let k = 0; k < 10; k++) {
        await store.record(envelope(k), position(k));
        expect(await store.eventById('acme', `unknown-${k}`)).toBeUndefined();
      }
      for (let b = 0; b < 30; b++)
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.record(envelope(100 + b * 50 + i), position(100 + b * 50 + i)),
          ),
        );
      await store.plannerStatistics?.settled();
      for (let k = 0; k < 6; k++) expect(await store.eventById('acme', `unknown-${k}`)).toBeUndefined();
      expect((await store.eventById('acme', 'e-1200'))?.envelope.correlationid).toBe('r-1200');
      const { rows: statements } = await store.db.query<{ name: string }>(
        `SELECT name FROM pg_prepared_statements WHERE statement LIKE '%WHERE tenant_id = $1 AND event_id = $2 ORDER BY seq LIMIT 1'`,
      );
      expect(statements).toHaveLength(1);
      const { rows: plan } = await store.db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (COSTS OFF) EXECUTE ${statements[0].name}('acme', 'unknown')`,
      );
      const text = plan.map((r) => r['QUERY PLAN']).join('\n');
      // Before: "Index Scan using audit_events_by_seq ... Filter: (event_id = $2)", every row read.
      expect(text).toContain('audit_events_by_event_id');
      expect(store.plannerStatistics?.analyses()).toBeGreaterThan(0);
      expect(store.plannerStatistics?.lastError).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
