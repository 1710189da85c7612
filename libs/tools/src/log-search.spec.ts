import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_LOGS_DIR, searchLogs } from './log-search';

const signal = () => new AbortController().signal;

describe('log_search over NDJSON logs', () => {
  it('finds the payments database errors of the sample incident', async () => {
    const answer = await searchLogs(
      SAMPLE_LOGS_DIR,
      { service: 'payments', level: 'error', query: 'pool exhausted', limit: 100 },
      signal(),
    );
    expect(answer.matches.length).toBeGreaterThan(2);
    for (const entry of answer.matches) {
      expect(entry).toMatchObject({ service: 'payments', level: 'error' });
      expect(String(entry['msg'])).toContain('pool exhausted');
    }
    expect(answer.incomplete).toBe(false);
    expect(answer.scannedLines).toBeGreaterThan(400);
  });

  it('filters by time window', async () => {
    const answer = await searchLogs(
      SAMPLE_LOGS_DIR,
      { since: '2026-11-28T09:00:00Z', until: '2026-11-28T09:10:00Z', level: 'error', limit: 100 },
      signal(),
    );
    expect(answer.matches).toEqual([]);
  });

  it('stops at the limit and at the scan bound', async () => {
    expect(await searchLogs(SAMPLE_LOGS_DIR, { limit: 3 }, signal())).toMatchObject({
      incomplete: true,
      scannedLines: 3,
    });
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-logs-'));
    writeFileSync(join(dir, 'big.ndjson'), '{"level":"info","msg":"noise"}\nnot json\n'.repeat(5000));
    const answer = await searchLogs(dir, { query: 'needle' }, signal(), {
      maxScannedLines: 1000,
      maxMatches: 10,
    });
    expect(answer).toEqual({ matches: [], scannedLines: 1000, incomplete: true });
  });
});
