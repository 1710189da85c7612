import type { HandlerContext, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  ResponseGenerated,
  ResponseGeneratedEvent,
  ReviewDecided,
  ReviewDecidedEvent,
} from '@llmbus/contracts';
import { inSpan } from '@llmbus/observability';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ResponseValidation } from './response-validation';

/** Validates generations and applies review decisions. */
@Controller()
export class ValidatorEventsController {
  constructor(private readonly validation: ResponseValidation) {}

  @EventPattern(ResponseGeneratedEvent.type)
  async generated(
    @Payload() event: EventEnvelope<ResponseGenerated>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { workflow } = event.data.context;
    // One span per validation decision; onGenerated adds the outcome and signals to it.
    return inSpan(
      `validate ${workflow.id}@${workflow.version}`,
      {
        attributes: {
          'llmbus.workflow': `${workflow.id}@${workflow.version}`,
          'llmbus.attempt': event.data.attempt,
          'llmbus.request_id': event.data.requestId,
        },
      },
      async () => this.validation.onGenerated(event.data, ctx.log, event.tenantid, ctx.heartbeat),
    );
  }

  @EventPattern(ReviewDecidedEvent.type)
  async reviewDecided(@Payload() event: EventEnvelope<ReviewDecided>): Promise<Outgoing[]> {
    return this.validation.onReviewDecided(event);
  }
}
