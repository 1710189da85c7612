import {
  AuditDataError,
  extractColumns,
  restatesUsage,
  type AuditStore,
  type ExtractedColumns,
} from '@llmbus/audit';
import { EventRejectedError, type HandlerContext, type Outgoing } from '@llmbus/bus';
import { RequestCompletedEvent, RequestFailedEvent, type EventEnvelope } from '@llmbus/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AUDIT_STORE } from './auditor-deps';
import { AuditPrivacy } from './audit-privacy';
import { auditorMetrics } from './auditor-metrics';
import { RequestOutcomeTally, type RequestTally } from './request-outcome-tally';

/**
 * Records every event of every platform topic, dead-letter topics included. A redelivered event
 * is stored once (the store ignores a tenant, source and id it already holds) and the auditor
 * publishes nothing. An event the database refuses for good is stored as a marked storable copy
 * or, failing that, dead-lettered: only outages leave it uncommitted for redelivery, so one event
 * never stops the trail.
 */
@Controller()
export class AuditRecorderController {
  constructor(
    @Inject(AUDIT_STORE) private readonly store: AuditStore,
    private readonly privacy: AuditPrivacy,
    private readonly tally: RequestOutcomeTally,
  ) {}

  @EventPattern('*')
  async record(@Payload() event: EventEnvelope<object>, @Ctx() ctx: HandlerContext): Promise<Outgoing[]> {
    if (!ctx.message) {
      // Without the position the row could not say where the event came from; retrying will not help.
      throw new Error(
        'the bus passed no message position (HandlerContext.message); the auditor needs @llmbus/bus with it',
      );
    }
    let sanitised = false;
    let recorded: boolean;
    try {
      recorded = await this.store.record(this.privacy.forStorage(event), ctx.message, {
        onSanitised: (reason) => {
          sanitised = true;
          ctx.log.warn({ reason }, 'audit store refused the event as received; recorded a sanitised copy');
        },
      });
    } catch (error) {
      if (error instanceof AuditDataError) throw new EventRejectedError('invalid_payload', error.message);
      throw error;
    }
    auditorMetrics.recorded.inc({
      type: event.type,
      outcome: !recorded ? 'duplicate' : sanitised ? 'sanitised' : 'recorded',
    });
    if (recorded) {
      // A call's usage counts once: not again from an event restating it.
      const usage = restatesUsage(event) ? undefined : extractColumns(event);
      this.tally.add(event, usage);
      this.countUsage(event, usage);
      await this.countOutcome(event, ctx);
    }
    return [];
  }

  private countUsage(event: EventEnvelope<object>, c: ExtractedColumns | undefined): void {
    if (c === undefined || c.modelId === null) return;
    const labels = {
      tenant: event.tenantid,
      workflow: workflowLabel(event.data),
      stage: c.stage ?? 'unknown',
      model: c.modelId,
    };
    auditorMetrics.calls.inc(labels);
    if (c.promptTokens !== null) auditorMetrics.tokens.inc({ ...labels, kind: 'prompt' }, c.promptTokens);
    if (c.completionTokens !== null)
      auditorMetrics.tokens.inc({ ...labels, kind: 'completion' }, c.completionTokens);
    if (c.costUsd !== null) auditorMetrics.cost.inc(labels, c.costUsd);
    if (c.latencyMs !== null) {
      const { workflow, stage, model } = labels;
      auditorMetrics.callDuration.observe({ workflow, stage, model }, c.latencyMs / 1000);
    }
  }

  /**
   * Counts a request that ended, with its cost and duration so far: from the running tally where
   * this process recorded all of the request's events, else from the trail.
   */
  private async countOutcome(event: EventEnvelope<object>, ctx: HandlerContext): Promise<void> {
    const outcome = outcomeOf(event);
    if (outcome === undefined) return;
    try {
      const cost = this.tally.take(event.tenantid, event.correlationid) ?? (await this.trailCost(event));
      const workflow = cost?.workflow ?? workflowLabel(event.data);
      auditorMetrics.requests.inc({ tenant: event.tenantid, workflow, outcome });
      if (cost === undefined) return;
      auditorMetrics.requestCost.observe({ workflow, outcome }, cost.costUsd);
      auditorMetrics.requestDuration.observe({ workflow, outcome }, cost.durationMs / 1000);
    } catch (error) {
      // The event is recorded; only its metrics are lost, which must not make it redelivered.
      ctx.log.warn({ err: error }, 'request outcome recorded but not counted in the metrics');
    }
  }

  /** The request's cost and duration read from the trail; undefined when the tenant has no record of it. */
  private async trailCost(event: EventEnvelope<object>): Promise<RequestTally | undefined> {
    const cost = await this.store.requestCost(event.tenantid, event.correlationid);
    if (cost === undefined) return undefined;
    return {
      ...(cost.workflow ? { workflow: `${cost.workflow.id}@${cost.workflow.version}` } : {}),
      costUsd: cost.totals.costUsd,
      durationMs: cost.durationMs,
    };
  }
}

/** `completed`, `reviewed` (completed after human review) or `failed` for a result event. */
function outcomeOf(event: EventEnvelope<object>): 'completed' | 'reviewed' | 'failed' | undefined {
  if (event.type === RequestFailedEvent.type) return 'failed';
  if (event.type !== RequestCompletedEvent.type) return undefined;
  const acceptedBy = (event.data as { acceptedBy?: unknown }).acceptedBy;
  return acceptedBy === 'reviewer' ? 'reviewed' : 'completed';
}

/** `id@version` of the workflow an event names (its context's, or its own), else `unknown`. */
function workflowLabel(data: object): string {
  const record = data as { context?: { workflow?: unknown }; workflow?: unknown };
  const ref = record.context?.workflow ?? record.workflow;
  if (typeof ref !== 'object' || ref === null) return 'unknown';
  const { id, version } = ref as { id?: unknown; version?: unknown };
  return typeof id === 'string' && typeof version === 'number' ? `${id}@${version}` : 'unknown';
}
