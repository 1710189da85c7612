import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { BuiltinTool } from './builtin-tools';

/** The repository's sample log set (this file sits in libs/tools/{src,dist}). */
export const SAMPLE_LOGS_DIR = resolve(__dirname, '..', '..', '..', 'samples', 'logs');

/** Log levels in increasing severity; `level` in a query means "this or worse". */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Bounds on one search, so a query over a large log set costs a known amount of work. */
export interface LogSearchLimits {
  /** Lines read across all files before the search stops (default 20,000). */
  readonly maxScannedLines: number;
  /** Largest `limit` a caller may ask for (default 100). */
  readonly maxMatches: number;
}

/** One search's answer: the matching entries (newest last) and how much was scanned. */
export interface LogSearchAnswer {
  readonly matches: readonly Record<string, unknown>[];
  readonly scannedLines: number;
  /** True when the scan stopped at `maxScannedLines` or at `limit` before the end of the logs. */
  readonly incomplete: boolean;
}

const DEFAULT_LIMITS: LogSearchLimits = { maxScannedLines: 20_000, maxMatches: 100 };

/** Arguments schema of `log_search`. */
export const LOG_SEARCH_ARGUMENTS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    query: { type: 'string', maxLength: 200, description: 'case-insensitive text the message must contain' },
    service: { type: 'string', maxLength: 100, description: 'exact service name, e.g. payments' },
    level: { enum: [...LOG_LEVELS], description: 'minimum severity' },
    since: { type: 'string', format: 'date-time', description: 'earliest timestamp (inclusive)' },
    until: { type: 'string', format: 'date-time', description: 'latest timestamp (inclusive)' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
  },
} as const;

interface LogQuery {
  readonly query?: string;
  readonly service?: string;
  readonly level?: (typeof LOG_LEVELS)[number];
  readonly since?: string;
  readonly until?: string;
  readonly limit?: number;
}

/**
 * Searches NDJSON logs (`*.ndjson` in `dir`, files in name order, lines as written) for entries
 * matching every given filter. Reads line by line, stops at `limit` matches or `maxScannedLines`
 * lines, and honours `signal`. Lines that are not JSON objects are skipped.
 */
export async function searchLogs(
  dir: string,
  query: LogQuery,
  signal: AbortSignal,
  limits: LogSearchLimits = DEFAULT_LIMITS,
): Promise<LogSearchAnswer> {
  const limit = Math.min(query.limit ?? 20, limits.maxMatches);
  const needle = query.query?.toLowerCase();
  const minLevel = query.level ? LOG_LEVELS.indexOf(query.level) : 0;
  const since = query.since ? Date.parse(query.since) : Number.NEGATIVE_INFINITY;
  const until = query.until ? Date.parse(query.until) : Number.POSITIVE_INFINITY;
  const files = (await readdir(dir)).filter((name) => name.endsWith('.ndjson')).sort();
  const matches: Record<string, unknown>[] = [];
  let scannedLines = 0;
  for (const file of files) {
    const stream = createReadStream(join(dir, file), { encoding: 'utf8', signal });
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        scannedLines += 1;
        const entry = parseEntry(line);
        if (
          entry &&
          (query.service === undefined || entry['service'] === query.service) &&
          LOG_LEVELS.indexOf(String(entry['level']) as (typeof LOG_LEVELS)[number]) >= minLevel &&
          inWindow(entry['ts'], since, until) &&
          (needle === undefined ||
            String(entry['msg'] ?? '')
              .toLowerCase()
              .includes(needle))
        ) {
          matches.push(entry);
        }
        if (matches.length >= limit || scannedLines >= limits.maxScannedLines) {
          return { matches, scannedLines, incomplete: true };
        }
      }
    } finally {
      lines.close();
      stream.destroy();
    }
  }
  return { matches, scannedLines, incomplete: false };
}

/** The `log_search` built-in tool over the NDJSON files of `dir` (the shipped sample set by default). */
export function logSearchTool(
  dir: string = SAMPLE_LOGS_DIR,
  limits: LogSearchLimits = DEFAULT_LIMITS,
): BuiltinTool {
  return {
    name: 'log_search',
    description:
      'Search service logs (NDJSON) by text, service, minimum level and time window; returns matching entries as JSON.',
    argumentsSchema: LOG_SEARCH_ARGUMENTS,
    run: (args, signal) => searchLogs(dir, args as LogQuery, signal, limits),
  };
}

function parseEntry(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function inWindow(ts: unknown, since: number, until: number): boolean {
  if (since === Number.NEGATIVE_INFINITY && until === Number.POSITIVE_INFINITY) return true;
  const at = typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
  return !Number.isNaN(at) && at >= since && at <= until;
}
