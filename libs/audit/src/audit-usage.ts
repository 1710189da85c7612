// Cost and usage accounting from the trail: what each request cost by step and model, and totals
// by workflow version, step, model and outcome over a time window. Model calls are the events
// whose usage is counted once (the same rule as costByStep: restating events are left out).
import { RequestCompletedEvent, RequestFailedEvent } from '@llmbus/contracts';
import { CALL_RESTATING_TYPES, RESTATED_USAGE_TYPES } from './audit-columns';
import type { SqlClient } from './sql-client';

/** How a request ended: completed by the validator, completed after human review, failed, or not yet. */
export const REQUEST_OUTCOMES = ['completed', 'reviewed', 'failed', 'in_progress'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** Tokens, cost and model time of a set of model calls. */
export interface UsageTotals {
  readonly calls: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** US dollars. */
  readonly costUsd: number;
  /** Sum of the calls' wall time in milliseconds (queueing and retries included). */
  readonly latencyMs: number;
  readonly maxLatencyMs: number;
}

/** The calls of one request made by one stage on one model. */
export interface RequestStepUsage extends UsageTotals {
  /** Stage that made the calls (from the events' CloudEvents source), when known. */
  readonly stage: string | null;
  readonly modelId: string;
}

/** What one request cost, step by step. */
export interface RequestCost {
  readonly requestId: string;
  /** The workflow the request ran, when an event of it names one. */
  readonly workflow?: { readonly id: string; readonly version: number };
  readonly outcome: RequestOutcome;
  readonly firstEventAt: string;
  readonly lastEventAt: string;
  /** From the first to the last recorded event, in milliseconds. */
  readonly durationMs: number;
  readonly totals: UsageTotals;
  readonly steps: readonly RequestStepUsage[];
}

/** A time window: events at or after `from` and before `to`; either end may be open. */
export interface UsageWindow {
  readonly from?: Date;
  readonly to?: Date;
  /** Split the rows into time buckets of this size (by the calls' event time). */
  readonly interval?: 'hour' | 'day';
}

/** Usage of the calls of one workflow version, stage, model and request outcome (and bucket). */
export interface UsageRow extends UsageTotals {
  /** Start of the row's time bucket (ISO 8601), when the query asked for an interval. */
  readonly bucketStart?: string;
  readonly workflowId: string | null;
  readonly workflowVersion: number | null;
  readonly stage: string | null;
  readonly modelId: string;
  readonly outcome: RequestOutcome;
  /** Distinct requests the calls belong to. */
  readonly requests: number;
}

const CALLS_WHERE = `tenant_id = $1 AND model_id IS NOT NULL AND NOT (type = ANY($2::text[]))
  AND NOT (type = ANY($3::text[]) AND payload->>'callId' IS NOT NULL)`;

const TOTAL_COLUMNS = `count(*)::int AS calls,
  coalesce(sum(prompt_tokens), 0)::float8 AS prompt_tokens,
  coalesce(sum(completion_tokens), 0)::float8 AS completion_tokens,
  coalesce(sum(cost_usd), 0)::float8 AS cost_usd,
  coalesce(sum(latency_ms), 0)::float8 AS latency_ms,
  coalesce(max(latency_ms), 0)::float8 AS max_latency_ms`;

// A request's workflow (from any event's context, or a result's workflow) and outcome flags.
// `completed` and `failed` are the placeholders of the two result event types.
function requestFacts(completed: string, failed: string): string {
  return `max(coalesce(payload->'context'->'workflow'->>'id', payload->'workflow'->>'id')) AS workflow_id,
  max(coalesce(payload->'context'->'workflow'->>'version', payload->'workflow'->>'version')) AS workflow_version,
  bool_or(type = ${completed} AND payload->>'acceptedBy' = 'reviewer') AS reviewed,
  bool_or(type = ${completed}) AS completed,
  bool_or(type = ${failed}) AS failed`;
}

const OUTCOME_SQL = `CASE WHEN r.reviewed THEN 'reviewed' WHEN r.completed THEN 'completed'
  WHEN r.failed THEN 'failed' ELSE 'in_progress' END`;

interface TotalsRow {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  latency_ms: number;
  max_latency_ms: number;
}

interface StepRow extends TotalsRow {
  stage: string | null;
  model_id: string;
}

interface FactsRow {
  workflow_id: string | null;
  workflow_version: string | null;
  reviewed: boolean | null;
  completed: boolean | null;
  failed: boolean | null;
  first_at: Date | string | null;
  last_at: Date | string | null;
}

interface UsageSqlRow extends StepRow {
  bucket_start: Date | string | null;
  workflow_id: string | null;
  workflow_version: string | null;
  outcome: RequestOutcome;
  requests: number;
}

/** One request's cost by stage and model; undefined when the tenant has no record of it. */
export async function queryRequestCost(
  client: SqlClient,
  tenantId: string,
  requestId: string,
): Promise<RequestCost | undefined> {
  const { rows: facts } = await client.query<FactsRow>(
    `SELECT ${requestFacts('$3', '$4')}, min(event_time) AS first_at, max(event_time) AS last_at
     FROM audit_events WHERE tenant_id = $1 AND correlation_id = $2`,
    [tenantId, requestId, RequestCompletedEvent.type, RequestFailedEvent.type],
  );
  const fact = facts[0];
  if (fact === undefined || fact.first_at === null || fact.last_at === null) return undefined;
  const { rows } = await client.query<StepRow>(
    `SELECT stage, model_id, ${TOTAL_COLUMNS}
     FROM audit_events WHERE ${CALLS_WHERE} AND correlation_id = $4
     GROUP BY stage, model_id ORDER BY stage, model_id`,
    [tenantId, RESTATED_USAGE_TYPES, CALL_RESTATING_TYPES, requestId],
  );
  const steps = rows.map((row) => ({ stage: row.stage, modelId: row.model_id, ...totalsOf(row) }));
  const first = new Date(fact.first_at);
  const last = new Date(fact.last_at);
  return {
    requestId,
    ...workflowOf(fact),
    outcome: outcomeOf(fact),
    firstEventAt: first.toISOString(),
    lastEventAt: last.toISOString(),
    durationMs: last.getTime() - first.getTime(),
    totals: sumTotals(steps),
    steps,
  };
}

/** Usage by workflow version, stage, model and outcome (and time bucket) of the calls in a window. */
export async function queryUsage(
  client: SqlClient,
  tenantId: string,
  window: UsageWindow,
): Promise<readonly UsageRow[]> {
  const bucket = window.interval ? `date_trunc('${window.interval}', c.event_time)` : 'NULL::timestamptz';
  const { rows } = await client.query<UsageSqlRow>(
    `WITH calls AS (
       SELECT correlation_id, stage, model_id, prompt_tokens, completion_tokens, cost_usd, latency_ms, event_time
       FROM audit_events
       WHERE ${CALLS_WHERE}
         AND ($6::timestamptz IS NULL OR event_time >= $6::timestamptz)
         AND ($7::timestamptz IS NULL OR event_time < $7::timestamptz)
     ), requests AS (
       SELECT correlation_id, ${requestFacts('$4', '$5')}
       FROM audit_events
       WHERE tenant_id = $1 AND correlation_id IN (SELECT correlation_id FROM calls)
       GROUP BY correlation_id
     )
     SELECT ${bucket} AS bucket_start, r.workflow_id, r.workflow_version, c.stage, c.model_id,
       ${OUTCOME_SQL} AS outcome, count(DISTINCT c.correlation_id)::int AS requests,
       count(*)::int AS calls,
       coalesce(sum(c.prompt_tokens), 0)::float8 AS prompt_tokens,
       coalesce(sum(c.completion_tokens), 0)::float8 AS completion_tokens,
       coalesce(sum(c.cost_usd), 0)::float8 AS cost_usd,
       coalesce(sum(c.latency_ms), 0)::float8 AS latency_ms,
       coalesce(max(c.latency_ms), 0)::float8 AS max_latency_ms
     FROM calls c JOIN requests r ON r.correlation_id = c.correlation_id
     GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6`,
    [
      tenantId,
      RESTATED_USAGE_TYPES,
      CALL_RESTATING_TYPES,
      RequestCompletedEvent.type,
      RequestFailedEvent.type,
      window.from ? window.from.toISOString() : null,
      window.to ? window.to.toISOString() : null,
    ],
  );
  return rows.map((row) => ({
    ...(row.bucket_start !== null && { bucketStart: new Date(row.bucket_start).toISOString() }),
    workflowId: row.workflow_id,
    workflowVersion: row.workflow_version === null ? null : Number(row.workflow_version),
    stage: row.stage,
    modelId: row.model_id,
    outcome: row.outcome,
    requests: row.requests,
    ...totalsOf(row),
  }));
}

function totalsOf(row: TotalsRow): UsageTotals {
  return {
    calls: row.calls,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    costUsd: row.cost_usd,
    latencyMs: row.latency_ms,
    maxLatencyMs: row.max_latency_ms,
  };
}

function sumTotals(steps: readonly UsageTotals[]): UsageTotals {
  return steps.reduce<UsageTotals>(
    (sum, step) => ({
      calls: sum.calls + step.calls,
      promptTokens: sum.promptTokens + step.promptTokens,
      completionTokens: sum.completionTokens + step.completionTokens,
      costUsd: sum.costUsd + step.costUsd,
      latencyMs: sum.latencyMs + step.latencyMs,
      maxLatencyMs: Math.max(sum.maxLatencyMs, step.maxLatencyMs),
    }),
    { calls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0, latencyMs: 0, maxLatencyMs: 0 },
  );
}

function outcomeOf(fact: Pick<FactsRow, 'reviewed' | 'completed' | 'failed'>): RequestOutcome {
  if (fact.reviewed) return 'reviewed';
  if (fact.completed) return 'completed';
  if (fact.failed) return 'failed';
  return 'in_progress';
}

function workflowOf(fact: FactsRow): { workflow?: { id: string; version: number } } {
  if (fact.workflow_id === null || fact.workflow_version === null) return {};
  const version = Number(fact.workflow_version);
  return Number.isInteger(version) ? { workflow: { id: fact.workflow_id, version } } : {};
}
