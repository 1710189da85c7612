import { AuditDataError, extractColumns, restatesUsage, type AuditStore } from '@llmbus/audit';
import { EventRejectedError, type HandlerContext, type Outgoing } from '@llmbus/bus';
import type { EventEnvelope } from '@llmbus/contracts';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AUDIT_STORE } from './auditor-deps';
import { AuditPrivacy } from './audit-privacy';
import { auditorMetrics } from './auditor-metrics';

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
    if (recorded) this.countUsage(event);
    return [];
  }

  private countUsage(event: EventEnvelope<object>): void {
    if (restatesUsage(event)) return;
    const c = extractColumns(event);
    if (c.modelId === null) return;
    const stage = c.stage ?? 'unknown';
    if (c.promptTokens !== null)
      auditorMetrics.tokens.inc({ stage, model: c.modelId, kind: 'prompt' }, c.promptTokens);
    if (c.completionTokens !== null)
      auditorMetrics.tokens.inc({ stage, model: c.modelId, kind: 'completion' }, c.completionTokens);
    if (c.costUsd !== null) auditorMetrics.cost.inc({ stage, model: c.modelId }, c.costUsd);
  }
}
