import { EventRejectedError, HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  RequestCompleted,
  RequestCompletedEvent,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  ReviewRequested,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { RoutingDecision, WorkflowError } from '@llmbus/workflows';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { RouterRuntime } from './router-runtime';

/**
 * Routes submitted requests, and keeps the status projection current from the outcome events
 * (same consumer group: the router reads the result and review topics for its status API).
 */
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
    this.runtime.statuses.record(event.tenantid, event.data.requestId, {
      status: 'routed',
      workflow: routed.context.workflow,
    });
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

  @EventPattern(RequestCompletedEvent.type)
  async completed(@Payload() event: EventEnvelope<RequestCompleted>): Promise<Outgoing[]> {
    const { requestId, workflow, output, citations, acceptedBy } = event.data;
    this.runtime.statuses.record(event.tenantid, requestId, {
      status: 'completed',
      workflow,
      output,
      citations,
      acceptedBy,
    });
    return [];
  }

  @EventPattern(RequestFailedEvent.type)
  async failed(@Payload() event: EventEnvelope<RequestFailed>): Promise<Outgoing[]> {
    const { requestId, code, message, stage, details } = event.data;
    this.runtime.statuses.record(event.tenantid, requestId, {
      status: 'failed',
      failure: { code, message, stage, details },
    });
    return [];
  }

  @EventPattern(ReviewRequestedEvent.type)
  async review(@Payload() event: EventEnvelope<ReviewRequested>): Promise<Outgoing[]> {
    const { requestId, context, reason } = event.data;
    this.runtime.statuses.record(event.tenantid, requestId, {
      status: 'review',
      workflow: context.workflow,
      reviewReason: reason,
    });
    return [];
  }
}
