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
  truncateText,
  WorkflowRef,
} from '@llmbus/contracts';
import { annotateActiveSpan, type Logger } from '@llmbus/observability';
import {
  PiiProtection,
  PiiVault,
  type PiiActions,
  PiiVaultError,
  resolvePiiPolicy,
  restoreText,
  restoreValue,
} from '@llmbus/pii';
import {
  decideOutcome,
  LoadedWorkflow,
  OutputValidator,
  valueAt,
  WorkflowError,
  WorkflowRegistry,
} from '@llmbus/workflows';

/**
 * The validator's decisions: accept a generation, ask for a stricter retry, escalate to review or
 * fail per the workflow; and apply reviewers' decisions to escalated outputs. A generation from a
 * masked prompt has its placeholders restored before any check (schemas, rules and citations see
 * the real values); what is published then follows the workflow's output PII policy.
 */
export class ResponseValidation {
  private readonly validator = new OutputValidator();

  constructor(
    private readonly workflows: WorkflowRegistry,
    private readonly pii: PiiProtection,
  ) {}

  /** Validates a generation and returns the one event that follows from it. */
  onGenerated(data: ResponseGenerated, log: Logger, tenantId?: string): Outgoing[] {
    const workflow = this.workflowOf(data.context.workflow);
    const vault = this.vaultOf(data);
    const text = restoreText(data.text, vault);
    const output = data.output === undefined ? undefined : restoreValue(data.output, vault);
    const renderedPrompt = restoreText(data.renderedPrompt, vault);
    const result = this.validator.validate(
      workflow,
      { output, text, renderedPrompt, input: data.input },
      data.passages,
    );
    const publish = <T>(value: T): T =>
      this.pii.forChannel(value, resolvePiiPolicy(workflow.pii, tenantId).outputs, vault);
    const outcome = decideOutcome(workflow, data.attempt, result);
    const violations = capList(outcome.kind === 'accept' ? [] : outcome.problems, 50, 1000);
    const { assessment } = result;
    annotateActiveSpan({
      'llmbus.validation.outcome': outcome.kind,
      'llmbus.validation.violations': violations.length,
      'llmbus.validation.confidence': assessment.confidence,
    });
    log.info(
      {
        attempt: data.attempt,
        outcome: outcome.kind,
        violations: violations.length,
        confidence: assessment.confidence,
      },
      'response validated',
    );
    const { requestId, context, input, passages, attempt, usage } = data;
    switch (outcome.kind) {
      case 'accept':
        return [
          outgoing(
            RequestCompletedEvent,
            {
              requestId,
              workflow: context.workflow,
              output: publish({ ...result.output }),
              citations: [...result.citations],
              attempts: attempt,
              acceptedBy: 'validator',
              usage,
              assessment,
              replyTo: context.replyTo,
            },
            { attempt },
          ),
        ];
      case 'retry':
        return [
          outgoing(
            RegenerationRequestedEvent,
            {
              requestId,
              context,
              input,
              passages,
              attempt: outcome.nextAttempt,
              violations,
              stricterInstruction: outcome.instruction,
              assessment,
            },
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
              reason: truncateText(outcome.reason, 2000),
              violations,
              output: result.output === undefined ? undefined : publish({ ...result.output }),
              text: publish(text),
              attempts: attempt,
              usage,
              assessment,
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
              message: truncateText(outcome.reason, 2000),
              stage: 'validator',
              details: violations,
              replyTo: context.replyTo,
            },
            { attempt },
          ),
        ];
    }
  }

  /**
   * Applies a reviewer's decision to the review it carries: approve or edit complete the request,
   * reject fails it. Stateless: a redelivered decision yields the same events (same derived ids).
   */
  onReviewDecided(event: EventEnvelope<ReviewDecided>): Outgoing[] {
    const { requestId, decision, reviewer, comment, review } = event.data;
    // Tool approvals resume the generator's tool loop; they are not output reviews.
    if (review.kind === 'tool-approval') return [];
    if (review.requestId !== requestId) {
      throw new EventRejectedError(
        'invalid_payload',
        `the decision for ${requestId} carries the review of ${review.requestId}`,
        ['review.requestId: must equal requestId'],
      );
    }
    const workflow = this.workflowOf(review.context.workflow);
    const outputs = resolvePiiPolicy(workflow.pii, event.tenantid).outputs;
    switch (decision) {
      case 'approve': {
        if (!review.output) {
          throw new EventRejectedError(
            'invalid_payload',
            `request ${requestId} has no parsed output to approve; decide "edit" with an output, or "reject"`,
          );
        }
        const { citations } = this.validator.validate(
          workflow,
          { output: review.output, text: review.text },
          review.passages,
        );
        return [this.completed(outputs, review, review.output, citations)];
      }
      case 'edit':
        if (!event.data.output) {
          throw new EventRejectedError(
            'invalid_payload',
            'an "edit" decision must carry the edited output in "output"',
            ['output: is required'],
          );
        }
        return [
          this.completed(
            outputs,
            review,
            event.data.output,
            this.groundedCitations(workflow, review, event.data.output),
          ),
        ];
      case 'reject':
        return [
          outgoing(RequestFailedEvent, {
            requestId,
            code: 'review_rejected',
            message: truncateText(
              `reviewer ${reviewer} rejected the output${comment ? `: ${comment}` : ''}`,
              2000,
            ),
            stage: 'validator',
            details: [],
            replyTo: review.context.replyTo,
          }),
        ];
    }
  }

  private completed(
    outputs: PiiActions,
    review: ReviewRequested,
    output: Readonly<Record<string, unknown>>,
    citations: readonly string[],
  ): Outgoing {
    return outgoing(RequestCompletedEvent, {
      requestId: review.requestId,
      workflow: review.context.workflow,
      output: this.pii.forChannel({ ...output }, outputs, new PiiVault()),
      citations: [...citations],
      attempts: review.attempts,
      acceptedBy: 'reviewer',
      usage: review.usage,
      replyTo: review.context.replyTo,
    });
  }

  /** Citations of an edited output that name passages retrieved for the request; others are dropped. */
  private groundedCitations(
    workflow: LoadedWorkflow,
    review: ReviewRequested,
    output: Record<string, unknown>,
  ): string[] {
    const field = workflow.validation.citations?.field;
    const cited = field ? valueAt({ output }, field) : undefined;
    const retrieved = new Set(review.passages.map((p) => p.id));
    return Array.isArray(cited)
      ? [...new Set(cited.filter((id): id is string => typeof id === 'string' && retrieved.has(id)))]
      : [];
  }

  /** The placeholder mapping the generator sealed (empty when the prompt was not masked). */
  private vaultOf(data: ResponseGenerated): PiiVault {
    try {
      return this.pii.open(data.piiVault, data.requestId);
    } catch (error) {
      if (error instanceof PiiVaultError) throw new EventRejectedError('processing_error', error.message);
      throw error;
    }
  }

  private workflowOf(ref: WorkflowRef): LoadedWorkflow {
    try {
      return this.workflows.get(ref.id, ref.version);
    } catch (error) {
      if (error instanceof WorkflowError)
        throw new EventRejectedError(error.code, error.message, error.details);
      throw error;
    }
  }
}

function capList(lines: readonly string[], count: number, length: number): string[] {
  return lines.slice(0, count).map((line) => truncateText(line, length));
}
