/** Rows written before the first analysis (autovacuum_analyze_threshold's default). */
export const ANALYZE_THRESHOLD_ROWS = 50;
/**
 * Share of the rows at the last analysis to be written before the next: 1, each time the table
 * doubled. Autovacuum's default is 0.1, but a plan only changes when a table's size changes by
 * orders of magnitude, and an analysis of the audit table cost 8.4 ms of CPU at 4,000 rows (its
 * indexed columns; 19.6 ms with the payloads): at 0.1 that was 0.15 ms per request of 8 events.
 */
export const ANALYZE_SCALE_FACTOR = 1;

/**
 * Keeps the planner statistics of a PGlite table fresh, as autovacuum does on a PostgreSQL server:
 * PGlite runs no autovacuum, so a table is never analysed, and a named prepared statement keeps the
 * generic plan it chose while the table was small for as long as the connection lives. The audit
 * store's event-id read, prepared at the first POST, kept a scan of the tenant's rows in `seq`
 * order (the `ORDER BY seq LIMIT 1` path) and read every row of the trail for each new request id:
 * 1.7 ms of CPU at 4,400 rows, growing with the trail. ANALYZE updates the statistics and
 * invalidates the cached plans of statements that read the table, which are then planned again.
 *
 * `rowsWritten` counts rows; once more than ANALYZE_THRESHOLD_ROWS + ANALYZE_SCALE_FACTOR × the
 * rows at the last analysis were written since (as autovacuum counts, with a larger factor), `analyze` runs (one at a time, never awaited by
 * the writer). A failed analysis leaves the plans as they were (a slower read, never a wrong one):
 * its error is kept in `lastError` and the next threshold tries again.
 */
export class PglitePlannerStatistics {
  private rowsAtAnalysis: number;
  private writtenSince = 0;
  private running: Promise<void> | undefined;
  private analysesRun = 0;
  /** The error of the last analysis when it failed; undefined after one that succeeded. */
  lastError: unknown;

  constructor(
    /** Runs ANALYZE on the table; rejects when it fails. */
    private readonly analyze: () => Promise<void>,
    /** The table's rows when the store opened (pg_class.reltuples; 0 when never analysed). */
    rowsAtStart: number,
  ) {
    this.rowsAtAnalysis = Math.max(0, rowsAtStart);
  }

  /** Counts `rows` rows written to the table; starts an analysis when enough were. */
  rowsWritten(rows: number): void {
    this.writtenSince += rows;
    if (this.running !== undefined) return;
    if (this.writtenSince <= ANALYZE_THRESHOLD_ROWS + ANALYZE_SCALE_FACTOR * this.rowsAtAnalysis) return;
    this.running = this.run();
  }

  /** Analyses run so far, successful ones only. */
  analyses(): number {
    return this.analysesRun;
  }

  /** Resolves once no analysis is running (before the database is closed). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async run(): Promise<void> {
    const counted = this.writtenSince;
    try {
      await this.analyze();
      this.analysesRun += 1;
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error;
    } finally {
      // Counted as analysed either way: a failure is tried again after the next threshold, not
      // at every row.
      this.rowsAtAnalysis += counted;
      this.writtenSince -= counted;
      this.running = undefined;
    }
  }
}
