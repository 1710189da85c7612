import type { ExtractedColumns } from '@llmbus/audit';
import { RequestSubmittedEvent, type EventEnvelope } from '@llmbus/contracts';
import { LRUCache } from 'lru-cache';

/** What the outcome metrics of a request need: what AuditStore.requestCost answers from the trail. */
export interface RequestTally {
  /** `id@version` of the workflow the request's events name, when one does. */
  readonly workflow?: string;
  /** Sum of the costs of its model calls (restating events left out), US dollars. */
  readonly costUsd: number;
  /** From its earliest to its latest event time, milliseconds. */
  readonly durationMs: number;
}

interface Running {
  /** Whether the request's RequestSubmitted was recorded by this process (see tallyOf). */
  submitted: boolean;
  workflowId?: string;
  workflowVersion?: string;
  /** Cost in units of 1e-10 US dollars (the audit column's scale), an exact integer sum. */
  costUnits: number;
  firstAt: number;
  lastAt: number;
}

/**
 * Running totals per request of the events this process recorded, so that the outcome metrics of
 * a request need no query of the trail when it ends (two statements per ended request on the
 * audit store before). Kept the way the trail query computes them: the cost of the calls counted
 * once (restatesUsage), summed exactly at the column's ten decimals; the workflow the events name (their
 * context's, or their own); the span of their event times.
 *
 * Only where this process records every event of a request (embedded mode: one auditor, one
 * process) does a tally equal the trail's, and only for a request whose RequestSubmitted it
 * recorded; tallyOf answers undefined otherwise (and for a request evicted, least recently used
 * first, past `maxRequests`), and the caller reads the trail instead.
 */
export class RequestOutcomeTally {
  private readonly running: LRUCache<string, Running> | undefined;

  /**
   * `recordsEveryEvent`: whether this process records every event of every request (embedded
   * mode); without it the tally keeps nothing and take always answers undefined.
   * `maxRequests`: requests tracked at once (10,000 by default, a few hundred bytes each).
   */
  constructor(recordsEveryEvent: boolean, maxRequests = 10_000) {
    this.running = recordsEveryEvent ? new LRUCache({ max: maxRequests }) : undefined;
  }

  /**
   * Adds an event the store recorded (not one it found a duplicate of), with its usage columns
   * (extractColumns), undefined for an event restating a call already counted (restatesUsage).
   */
  add(event: EventEnvelope<object>, usage: ExtractedColumns | undefined): void {
    if (this.running === undefined) return;
    const key = keyOf(event.tenantid, event.correlationid);
    const at = Date.parse(event.time);
    let running = this.running.get(key);
    if (running === undefined) {
      running = { submitted: false, costUnits: 0, firstAt: at, lastAt: at };
      this.running.set(key, running);
    }
    if (event.type === RequestSubmittedEvent.type) running.submitted = true;
    if (at < running.firstAt) running.firstAt = at;
    if (at > running.lastAt) running.lastAt = at;
    const { id, version } = workflowRefOf(event.data);
    // max() over the events, as the trail query takes it (one workflow per request in practice).
    if (id !== undefined && (running.workflowId === undefined || id > running.workflowId))
      running.workflowId = id;
    if (version !== undefined && (running.workflowVersion === undefined || version > running.workflowVersion))
      running.workflowVersion = version;
    if (usage !== undefined && usage.modelId !== null && usage.costUsd !== null)
      running.costUnits += Math.round(usage.costUsd * COST_UNITS_PER_USD);
  }

  /**
   * The request's totals, forgotten once read (its outcome is counted once); undefined when this
   * process did not record its RequestSubmitted or no longer tracks it.
   */
  take(tenantId: string, requestId: string): RequestTally | undefined {
    if (this.running === undefined) return undefined;
    const key = keyOf(tenantId, requestId);
    const running = this.running.get(key);
    this.running.delete(key);
    if (running === undefined || !running.submitted) return undefined;
    const version = running.workflowVersion === undefined ? NaN : Number(running.workflowVersion);
    return {
      ...(running.workflowId !== undefined && Number.isInteger(version)
        ? { workflow: `${running.workflowId}@${version}` }
        : {}),
      // The nearest double to the exact decimal sum, as PostgreSQL's numeric to float8 cast gives.
      costUsd: running.costUnits / COST_UNITS_PER_USD,
      durationMs: running.lastAt - running.firstAt,
    };
  }
}

/** audit_events.cost_usd is numeric(20, 10): costs are stored, and summed, to ten decimals. */
const COST_UNITS_PER_USD = 1e10;

function keyOf(tenantId: string, requestId: string): string {
  return JSON.stringify([tenantId, requestId]);
}

/** The workflow id and version (as text, as the trail query reads them) an event's payload names. */
function workflowRefOf(data: object): { id?: string; version?: string } {
  const record = data as { context?: { workflow?: unknown }; workflow?: unknown };
  const fromContext = fieldsOf(record.context?.workflow);
  const own = fieldsOf(record.workflow);
  return { id: fromContext.id ?? own.id, version: fromContext.version ?? own.version };
}

function fieldsOf(ref: unknown): { id?: string; version?: string } {
  if (typeof ref !== 'object' || ref === null) return {};
  const { id, version } = ref as { id?: unknown; version?: unknown };
  return {
    id: typeof id === 'string' ? id : undefined,
    version: typeof version === 'number' || typeof version === 'string' ? String(version) : undefined,
  };
}
