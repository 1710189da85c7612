import type { HandlerContext, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  ResponseGenerated,
  ResponseGeneratedEvent,
  ReviewDecided,
  ReviewDecidedEvent,
  ReviewRequested,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ResponseValidation } from './response-validation';

/** Validates generations and applies review decisions; also reads its own escalations to remember them. */
@Controller()
export class ValidatorEventsController {
  constructor(private readonly validation: ResponseValidation) {}

  @EventPattern(ResponseGeneratedEvent.type)
  async generated(@Payload() event: EventEnvelope<ResponseGenerated>, @Ctx() ctx: HandlerContext): Promise<Outgoing[]> {
    return this.validation.onGenerated(event.data, ctx.log);
  }

  @EventPattern(ReviewRequestedEvent.type)
  async reviewRequested(@Payload() event: EventEnvelope<ReviewRequested>): Promise<Outgoing[]> {
    this.validation.onReviewRequested(event);
    return [];
  }

  @EventPattern(ReviewDecidedEvent.type)
  async reviewDecided(@Payload() event: EventEnvelope<ReviewDecided>, @Ctx() ctx: HandlerContext): Promise<Outgoing[]> {
    return this.validation.onReviewDecided(event, ctx.log);
  }
}
