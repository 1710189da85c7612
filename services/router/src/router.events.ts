import { EventRejectedError, HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
} from '@llmbus/contracts';
import { tagForAttestation } from '@llmbus/pii';
import { RoutingDecision } from '@llmbus/workflows';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { digestOfSubmission, requestIdReuse } from './request-id-reuse';
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
    const submissionDigest = digestOfSubmission(event.data);
    if (await this.isDuplicate(event, submissionDigest, ctx)) return [];
    // The request's fields tagged as themselves (not only inside the classifier's text), so the
    // stages after this one, which see them on their own lines, reuse the attested answers.
    tagForAttestation(textFieldsOf(event.data.input));
    const decision = await this.route(event.data);
    const { workflow } = decision;
    const routed = { ...decision.routed, submissionDigest };
    this.runtime.statuses.routed(event.tenantid, event.data.requestId, event.id, submissionDigest);
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
   * A request id routed before under another event id: the same body again (an upstream retry
   * with a fresh `ce_id`) is a duplicate, dropped with nothing published (true); another body is
   * another request reusing the id, dead-lettered as `request_id_conflict` without a
   * RequestFailed, since one keyed by the id would read as the first request's outcome. The same
   * event id again (a redelivery, a dead letter's replay) is never a duplicate of itself.
   * @throws EventRejectedError `request_id_conflict` for another body.
   */
  private async isDuplicate(
    event: EventEnvelope<RequestSubmitted>,
    submissionDigest: string,
    ctx: HandlerContext,
  ): Promise<boolean> {
    const { requestId } = event.data;
    const earlier = await this.runtime.statuses.earlierRouting(event.tenantid, requestId, event.id);
    if (earlier === undefined) return false;
    const ids = { eventId: event.id, earlierEventId: earlier.eventId };
    // A routing recorded without a digest cannot be compared: running the request twice is the worse error.
    if (earlier.submissionDigest === undefined || earlier.submissionDigest === submissionDigest) {
      requestIdReuse.inc({ tenant: event.tenantid, outcome: 'duplicate' });
      ctx.log.info(
        ids,
        `request id "${requestId}" was already accepted with the same body (event ${earlier.eventId}); duplicate event ${event.id} dropped, nothing published`,
      );
      return true;
    }
    requestIdReuse.inc({ tenant: event.tenantid, outcome: 'conflict' });
    throw new EventRejectedError(
      'request_id_conflict',
      `request id "${requestId}" was already used for another request; use a new request id`,
      [`ce_id: ${event.id}`, `earlier ce_id: ${earlier.eventId}`, 'data: differs from the earlier request'],
      { notifyRequester: false },
    );
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

/** The request's top-level text fields (subject, body, ...). */
function textFieldsOf(input: Readonly<Record<string, unknown>>): string[] {
  return Object.values(input).filter((value): value is string => typeof value === 'string');
}
