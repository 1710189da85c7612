import { EventRejectedError, outgoing, Outgoing } from '@llmbus/bus';
import {
  EventEnvelope,
  RegenerationRequestedEvent,
  RequestCompletedEvent,
  RequestFailedEvent,
  ResponseGenerated,
  ReviewDecided,
  ReviewRequested,
  ReviewRequestedEvent,
  WorkflowRef,
} from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';
import {
  decideOutcome,
  LoadedWorkflow,
  OutputValidator,
  redactPii,
  redactPiiText,
  valueAt,
  WorkflowError,
  WorkflowRegistry,
} from '@llmbus/workflows';
import type { PendingReviewStore } from './pending-review.store';

/**
 * The validator's decisions: accept a generation (redacted), ask for a stricter retry, escalate
 * to review or fail per the workflow; and apply reviewers' decisions to escalated outputs.
 */
export class ResponseValidation {
  private readonly validator = new OutputValidator();

  constructor(
    private readonly workflows: WorkflowRegistry,
    private readonly pending: PendingReviewStore,
  ) {}

  /** Validates a generation and returns the one event that follows from it. */
  onGenerated(data: ResponseGenerated, log: Logger): Outgoing[] {
    const workflow = this.workflowOf(data.context.workflow);
    const result = this.validator.validate(workflow, { output: data.output, text: data.text }, data.passages);
    const outcome = decideOutcome(workflow, data.attempt, result);
    const violations = capList(result.violations, 50, 1000);
    log.info({ attempt: data.attempt, outcome: outcome.kind, violations: violations.length }, 'response validated');
    const { requestId, context, input, passages, attempt, usage } = data;
    switch (outcome.kind) {
      case 'accept':
        return [
          outgoing(
            RequestCompletedEvent,
            {
              requestId,
              workflow: context.workflow,
              output: redactPii({ ...result.output }),
              citations: [...result.citations],
              attempts: attempt,
              acceptedBy: 'validator',
              usage,
              replyTo: context.replyTo,
            },
            { attempt },
          ),
        ];
      case 'retry':
        return [
          outgoing(
            RegenerationRequestedEvent,
            { requestId, context, input, passages, attempt: outcome.nextAttempt, violations, stricterInstruction: outcome.instruction },
            { attempt },
          ),
        ];
      case 'review':
        return [
          outgoing(
            ReviewRequestedEvent,
            {
              requestId,
              context,
              input,
              passages,
              reason: outcome.reason.slice(0, 2000),
              violations,
              output: result.output === undefined ? undefined : redactPii({ ...result.output }),
              text: redactPiiText(data.text),
              attempts: attempt,
              usage,
            },
            { attempt },
          ),
        ];
      case 'fail':
        return [
          outgoing(
            RequestFailedEvent,
            {
              requestId,
              code: 'validation_failed',
              message: outcome.reason.slice(0, 2000),
              stage: 'validator',
              details: violations,
              replyTo: context.replyTo,
            },
            { attempt },
          ),
        ];
    }
  }

  /** Remembers an escalated output so that the reviewer's decision can release it. */
  onReviewRequested(event: EventEnvelope<ReviewRequested>): void {
    const { requestId, context, output, text, passages, attempts, usage } = event.data;
    const workflow = this.workflows.find(context.workflow.id, context.workflow.version);
    const citations = workflow && output ? this.validator.validate(workflow, { output, text }, passages).citations : [];
    this.pending.add(event.tenantid, requestId, {
      workflow: context.workflow,
      output,
      citations,
      passageIds: passages.map((p) => p.id),
      attempts,
      usage,
      replyTo: context.replyTo,
    });
  }

  /** Applies a reviewer's decision: approve or edit complete the request, reject fails it. */
  onReviewDecided(event: EventEnvelope<ReviewDecided>, log: Logger): Outgoing[] {
    const { requestId, decision, reviewer, comment } = event.data;
    const review = this.pending.get(event.tenantid, requestId);
    if (!review) {
      // Retryable on purpose: the ReviewRequested may not have been consumed yet. After the bus's
      // retries the request fails with this message.
      throw new Error(
        `no pending review for request ${requestId} in this validator; pending reviews live in memory and are lost on restart, so resubmit the request`,
      );
    }
    if (review.decisionEventId !== undefined && review.decisionEventId !== event.id) {
      log.warn({ reviewer, decision }, 'review already decided; later decision ignored');
      return [];
    }
    let result: Outgoing;
    switch (decision) {
      case 'approve':
        if (!review.output) {
          throw new EventRejectedError('invalid_payload', `request ${requestId} has no parsed output to approve; decide "edit" with an output, or "reject"`);
        }
        result = this.completed(requestId, review.workflow, review.output, review.citations, review);
        break;
      case 'edit': {
        if (!event.data.output) {
          throw new EventRejectedError('invalid_payload', 'an "edit" decision must carry the edited output in "output"', ['output: is required']);
        }
        result = this.completed(requestId, review.workflow, event.data.output, this.editedCitations(review, event.data.output), review);
        break;
      }
      case 'reject':
        result = outgoing(RequestFailedEvent, {
          requestId,
          code: 'review_rejected',
          message: `reviewer ${reviewer} rejected the output${comment ? `: ${comment}` : ''}`.slice(0, 2000),
          stage: 'validator',
          details: [],
          replyTo: review.replyTo,
        });
        break;
    }
    this.pending.markDecided(event.tenantid, requestId, event.id);
    return [result];
  }

  private completed(
    requestId: string,
    workflow: WorkflowRef,
    output: Readonly<Record<string, unknown>>,
    citations: readonly string[],
    review: { attempts: number; usage: ResponseGenerated['usage']; replyTo?: string },
  ): Outgoing {
    return outgoing(RequestCompletedEvent, {
      requestId,
      workflow,
      output: redactPii({ ...output }),
      citations: [...citations],
      attempts: review.attempts,
      acceptedBy: 'reviewer',
      usage: review.usage,
      replyTo: review.replyTo,
    });
  }

  private editedCitations(review: { workflow: WorkflowRef; passageIds: readonly string[] }, output: Record<string, unknown>): string[] {
    const field = this.workflows.find(review.workflow.id, review.workflow.version)?.validation.citations?.field;
    const cited = field ? valueAt({ output }, field) : undefined;
    const retrieved = new Set(review.passageIds);
    return Array.isArray(cited) ? [...new Set(cited.filter((id): id is string => typeof id === 'string' && retrieved.has(id)))] : [];
  }

  private workflowOf(ref: WorkflowRef): LoadedWorkflow {
    try {
      return this.workflows.get(ref.id, ref.version);
    } catch (error) {
      if (error instanceof WorkflowError) throw new EventRejectedError(error.code, error.message, error.details);
      throw error;
    }
  }
}

function capList(lines: readonly string[], count: number, length: number): string[] {
  return lines.slice(0, count).map((line) => line.slice(0, length));
}
