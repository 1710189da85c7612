import type { HandlerContext, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  ResponseGenerated,
  ResponseGeneratedEvent,
  ReviewDecided,
  ReviewDecidedEvent,
} from '@llmbus/contracts';
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
    return this.validation.onGenerated(event.data, ctx.log, event.tenantid, ctx.heartbeat);
  }

  @EventPattern(ReviewDecidedEvent.type)
  async reviewDecided(@Payload() event: EventEnvelope<ReviewDecided>): Promise<Outgoing[]> {
    return this.validation.onReviewDecided(event);
  }
}
