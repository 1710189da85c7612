import type { BuiltinTool } from './builtin-tools';
import { readCapped } from './result-cap';

/** Bounds on one query's answer, so a broad PromQL expression costs a known amount of context. */
export interface MetricsQueryLimits {
  /** Series kept from one answer (default 20); the rest are counted, not returned. */
  readonly maxSeries: number;
  /** Samples kept per series of a range query (default 60), evenly spaced, last one always kept. */
  readonly maxPointsPerSeries: number;
  /** Largest range a query may span, in seconds (default 24 h). */
  readonly maxRangeSeconds: number;
  /** Cap on the Prometheus answer read from the wire, in bytes (default 4 MiB). */
  readonly maxResponseBytes: number;
}

/** Where Prometheus is and how to reach it. */
export interface MetricsQueryOptions {
  /** Base URL of the Prometheus HTTP API, e.g. `http://127.0.0.1:19090` (PROMETHEUS_URL). */
  readonly baseUrl: string;
  readonly limits?: Partial<MetricsQueryLimits>;
  /** Clock for `lookback` (ms since epoch); tests pin it. */
  readonly now?: () => number;
  readonly fetchImpl?: typeof fetch;
}

const DEFAULT_LIMITS: MetricsQueryLimits = {
  maxSeries: 20,
  maxPointsPerSeries: 60,
  maxRangeSeconds: 86_400,
  maxResponseBytes: 4 * 1024 * 1024,
};

const DURATION = '^[1-9][0-9]{0,5}(s|m|h|d)$';

/** Arguments schema of `metrics_query`. */
export const METRICS_QUERY_ARGUMENTS = {
  type: 'object',
  additionalProperties: false,
  required: ['query'],
  properties: {
    query: {
      type: 'string',
      minLength: 1,
      maxLength: 1000,
      description: 'PromQL expression, e.g. rate(orchestrator_events_total{outcome="dead_lettered"}[5m])',
    },
    lookback: {
      type: 'string',
      pattern: DURATION,
      description: 'range query over the last duration (e.g. 15m, 2h); omit for an instant query',
    },
    start: { type: 'string', format: 'date-time', description: 'range query start (instead of lookback)' },
    end: { type: 'string', format: 'date-time', description: 'range query end (default: now)' },
    step: {
      type: 'string',
      pattern: DURATION,
      description: 'resolution of a range query (default: range/60)',
    },
    time: { type: 'string', format: 'date-time', description: 'evaluation time of an instant query' },
  },
} as const;

interface MetricsQueryArguments {
  readonly query: string;
  readonly lookback?: string;
  readonly start?: string;
  readonly end?: string;
  readonly step?: string;
  readonly time?: string;
}

/** One series of an answer: its labels and either one sample (instant) or samples (range). */
export interface MetricSeries {
  readonly metric: Readonly<Record<string, string>>;
  /** `[unix seconds, value as Prometheus prints it]`. */
  readonly value?: readonly [number, string];
  readonly values?: readonly (readonly [number, string])[];
  /** Samples in the range before thinning (range queries only). */
  readonly points?: number;
}

/** What `metrics_query` answers: the result, capped, and what was cut. */
export interface MetricsAnswer {
  readonly resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  readonly series: readonly MetricSeries[];
  /** `scalar` and `string` results: `[unix seconds, value]`. */
  readonly scalar?: readonly [number, string];
  readonly seriesTotal: number;
  /** True when series or samples were left out to fit the limits. */
  readonly truncated: boolean;
  readonly warnings?: readonly string[];
}

/** A PromQL query the tool refuses or Prometheus rejects; the message tells the model what to change. */
export class MetricsQueryError extends Error {
  override readonly name = 'MetricsQueryError';
}

/** Seconds in a `DURATION` (`15m` → 900). */
export function durationSeconds(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) throw new MetricsQueryError(`${text} is not a duration like 30s, 15m, 2h or 1d`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/**
 * Runs one PromQL query against Prometheus's HTTP API (`/api/v1/query`, or `/api/v1/query_range`
 * when `lookback` or `start` is given) and returns the result with at most `maxSeries` series and
 * `maxPointsPerSeries` samples each. Throws MetricsQueryError when the arguments make no range or
 * Prometheus rejects the query (its error text included), and plain errors on transport failures.
 */
export async function queryMetrics(
  options: MetricsQueryOptions,
  args: MetricsQueryArguments,
  signal: AbortSignal,
): Promise<MetricsAnswer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const now = (options.now ?? Date.now)() / 1000;
  const params = new URLSearchParams({ query: args.query });
  let path = '/api/v1/query';
  if (args.lookback !== undefined || args.start !== undefined) {
    const end = args.end !== undefined ? Date.parse(args.end) / 1000 : now;
    const start =
      args.start !== undefined ? Date.parse(args.start) / 1000 : end - durationSeconds(args.lookback ?? '');
    const span = end - start;
    if (!(span > 0)) throw new MetricsQueryError('the range is empty: start must be before end');
    if (span > limits.maxRangeSeconds)
      throw new MetricsQueryError(
        `the range spans ${Math.round(span)}s; at most ${limits.maxRangeSeconds}s may be queried`,
      );
    const step = args.step !== undefined ? durationSeconds(args.step) : Math.max(1, Math.ceil(span / 60));
    path = '/api/v1/query_range';
    params.set('start', String(start));
    params.set('end', String(end));
    params.set('step', String(step));
  } else if (args.time !== undefined) {
    params.set('time', String(Date.parse(args.time) / 1000));
  }
  const response = await (options.fetchImpl ?? fetch)(new URL(path, options.baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: params.toString(),
    signal,
    redirect: 'error',
  });
  const body = response.body
    ? await readCapped(response.body, limits.maxResponseBytes)
    : { text: '', truncated: false, bytes: 0 };
  if (body.truncated)
    throw new MetricsQueryError(
      `the answer exceeds ${limits.maxResponseBytes} bytes; narrow the query (labels, aggregation, shorter range)`,
    );
  const parsed = parseAnswer(body.text, response.status);
  return shape(parsed, limits);
}

interface PrometheusAnswer {
  readonly status: 'success' | 'error';
  readonly data?: { resultType: MetricsAnswer['resultType']; result: unknown };
  readonly errorType?: string;
  readonly error?: string;
  readonly warnings?: string[];
}

function parseAnswer(text: string, status: number): PrometheusAnswer {
  let answer: PrometheusAnswer;
  try {
    answer = JSON.parse(text) as PrometheusAnswer;
  } catch {
    throw new Error(`Prometheus answered HTTP ${status} with a body that is not JSON`);
  }
  if (answer.status !== 'success' || !answer.data) {
    // 400 bad_data (a PromQL syntax error), 422 execution, 503 timeout: all worth telling the model.
    throw new MetricsQueryError(
      `Prometheus rejected the query (${answer.errorType ?? `HTTP ${status}`}): ${answer.error ?? 'no reason given'}`,
    );
  }
  return answer;
}

type RawSeries = { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] };

function shape(answer: PrometheusAnswer, limits: MetricsQueryLimits): MetricsAnswer {
  const data = answer.data as NonNullable<PrometheusAnswer['data']>;
  const warnings = answer.warnings && answer.warnings.length > 0 ? { warnings: answer.warnings } : {};
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    const scalar = data.result as [number, string];
    return { resultType: data.resultType, series: [], scalar, seriesTotal: 0, truncated: false, ...warnings };
  }
  const all = data.result as RawSeries[];
  let truncated = all.length > limits.maxSeries;
  const series = all.slice(0, limits.maxSeries).map((raw): MetricSeries => {
    if (!raw.values) return { metric: raw.metric, value: raw.value };
    const values = thin(raw.values, limits.maxPointsPerSeries);
    if (values.length < raw.values.length) truncated = true;
    return { metric: raw.metric, values, points: raw.values.length };
  });
  return { resultType: data.resultType, series, seriesTotal: all.length, truncated, ...warnings };
}

/** At most `max` samples, evenly spaced, always keeping the last (the most recent value). */
function thin<T>(values: readonly T[], max: number): T[] {
  if (values.length <= max) return [...values];
  if (max <= 1) return values.slice(-1);
  const kept: T[] = [];
  const stride = (values.length - 1) / (max - 1);
  for (let i = 0; i < max; i += 1) kept.push(values[Math.round(i * stride)] as T);
  return kept;
}

/** The `metrics_query` built-in tool: PromQL against the Prometheus at `options.baseUrl`. */
export function metricsQueryTool(options: MetricsQueryOptions): BuiltinTool {
  return {
    name: 'metrics_query',
    description:
      'Query service metrics with PromQL (Prometheus). Instant query by default; give lookback (e.g. 15m) for a range. Returns series as JSON.',
    argumentsSchema: METRICS_QUERY_ARGUMENTS,
    run: (args, signal) => queryMetrics(options, args as unknown as MetricsQueryArguments, signal),
  };
}
