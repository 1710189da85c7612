import type { BuiltinTool } from './builtin-tools';
import { logSearchTool, SAMPLE_LOGS_DIR } from './log-search';
import { metricsQueryTool } from './metrics-query';
import { ticketHistoryTool, type TicketTrailReader } from './ticket-history';

/** What the product's built-in tools read: a log folder, Prometheus, the audit store. */
export interface ProductBuiltinOptions {
  /** NDJSON log folder of `log_search` (default: the shipped `samples/logs`). */
  readonly logsDir?: string;
  /** Base URL of Prometheus for `metrics_query` (PROMETHEUS_URL); without it the tool fails when called. */
  readonly prometheusUrl?: string;
  /** The audit store for `ticket_history`; without it the tool fails when called. */
  readonly ticketReader?: TicketTrailReader;
}

/**
 * Every built-in tool the product implements (`log_search`, `metrics_query`, `ticket_history`),
 * for `openTools`. A tool whose backend is not configured is still listed, so the shipped
 * `tools/` folder loads everywhere; calling it fails with a message naming what to set.
 */
export function productBuiltinTools(options: ProductBuiltinOptions = {}): BuiltinTool[] {
  const metrics = metricsQueryTool({ baseUrl: options.prometheusUrl ?? 'http://127.0.0.1:19090' });
  const tickets = ticketHistoryTool({ reader: options.ticketReader ?? unconfiguredReader() });
  return [
    logSearchTool(options.logsDir ?? SAMPLE_LOGS_DIR),
    options.prometheusUrl
      ? metrics
      : unavailable(metrics, 'PROMETHEUS_URL is not set (infra/prometheus.sh up prints it)'),
    tickets,
  ];
}

function unavailable(tool: BuiltinTool, why: string): BuiltinTool {
  return { ...tool, run: () => Promise.reject(new Error(`${tool.name} is not available: ${why}`)) };
}

function unconfiguredReader(): TicketTrailReader {
  const fail = () =>
    Promise.reject(new Error('ticket_history is not available: no audit store is configured'));
  return { listRequests: fail, trail: fail };
}
