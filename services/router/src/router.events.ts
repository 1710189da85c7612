import { EventRejectedError, HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import { RoutingDecision } from '@llmbus/workflows';
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
    this.checkSource(event);
    const decision = await this.route(event.data);
    const { workflow, routed } = decision;
    ctx.log.info(
      {
        workflow: `${workflow.id}@${workflow.version}`,
        modelTier: decision.modelTier,
        classification: routed.context.classification,
      },
      'request routed',
    );
    return [outgoing(RequestRoutedEvent, routed)];
  }

  /**
   * Whoever can produce to the request topic asserts the tenant (and the requester's groups):
   * Kafka ACLs decide who may produce; LLMBUS_TRUSTED_SOURCES narrows which source may speak for
   * which tenant. A refused request is dead-lettered and its requester told which pair to allow.
   */
  private checkSource(event: EventEnvelope<RequestSubmitted>): void {
    const verdict = this.runtime.trustedSources?.check(event.source, event.tenantid);
    if (!verdict || verdict.allowed) return;
    const pair = `source "${event.source}" may not assert tenant "${event.tenantid}"`;
    const message =
      verdict.reason === 'unlisted_source'
        ? `${pair}: the source is not listed in LLMBUS_TRUSTED_SOURCES. Add "${event.source}=${event.tenantid}" to LLMBUS_TRUSTED_SOURCES on the router if this producer is trusted.`
        : // Not the tenants it may assert: this message reaches the asserted tenant's result consumers.
          `${pair}: its entry in LLMBUS_TRUSTED_SOURCES does not list this tenant. Add "${event.tenantid}" to the "${event.source}" entry of LLMBUS_TRUSTED_SOURCES on the router if this is intended.`;
    throw new EventRejectedError('untrusted_source', message, [
      `ce_source: ${event.source}`,
      `ce_tenantid: ${event.tenantid}`,
    ]);
  }

  /**
   * Routes with the classifier steps. A request no workflow can serve fails with the code its
   * WorkflowError (or ClassifierUnavailableError) carries; model errors propagate (retried when
   * the error says it may pass).
   */
  private route(request: RequestSubmitted): Promise<RoutingDecision> {
    const { workflows, classifier } = this.runtime;
    return workflows.routeClassified(request, (workflow) => classifier.classify(workflow, request.input));
  }
}
