import { EventRejectedError, HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import { RoutingDecision, WorkflowError } from '@llmbus/workflows';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { RouterRuntime } from './router-runtime';

/** Routes submitted requests (the status projection is fed separately, see status-feed.ts). */
@Controller()
export class RouterEventsController {
  constructor(private readonly runtime: RouterRuntime) {}

  @EventPattern(RequestSubmittedEvent.type)
  async submitted(
    @Payload() event: EventEnvelope<RequestSubmitted>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const decision = this.route(event.data);
    const { workflow, routed } = decision;
    ctx.log.info(
      { workflow: `${workflow.id}@${workflow.version}`, modelTier: decision.modelTier },
      'request routed',
    );
    return [outgoing(RequestRoutedEvent, routed)];
  }

  private route(request: RequestSubmitted): RoutingDecision {
    try {
      return this.runtime.workflows.route(request);
    } catch (error) {
      if (error instanceof WorkflowError)
        throw new EventRejectedError(error.code, error.message, error.details);
      throw error;
    }
  }
}
