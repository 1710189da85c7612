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
  ClaimVerifier,
  decideOutcome,
  findInjectedInstructions,
  LoadedWorkflow,
  OutputValidation,
  OutputValidator,
  valueAt,
  withVerification,
  WorkflowRegistry,
} from '@llmbus/workflows';
import type { Heartbeat } from '@llmbus/bus';

/** How often a handler waiting on the verifier model tells the group it is alive. */
const HEARTBEAT_EVERY_MS = 3000;

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
    /** The verifier model pass of workflows with `verify.model`; required when one is loaded. */
    private readonly verifier?: ClaimVerifier,
  ) {
    const needing = workflows.list().filter((w) => w.verify?.model !== undefined);
    if (needing.length > 0 && !verifier) {
      throw new Error(
        `workflow(s) ${needing.map((w) => `${w.id}@${w.version}`).join(', ')} declare verify.model, and the validator was started without a verifier model`,
      );
    }
  }

  /** Validates a generation and returns the one event that follows from it. */
  async onGenerated(
    data: ResponseGenerated,
    log: Logger,
    tenantId?: string,
    heartbeat?: Heartbeat,
  ): Promise<Outgoing[]> {
    const workflow = this.workflowOf(data.context.workflow);
    const vault = this.vaultOf(data);
    const text = restoreText(data.text, vault);
    const output = data.output === undefined ? undefined : restoreValue(data.output, vault);
    const renderedPrompt = restoreText(data.renderedPrompt, vault);
    const { classification } = data.context;
    const result = await this.verified(
      workflow,
      this.validator.validate(
        workflow,
        { output, text, renderedPrompt, input: data.input, classification },
        data.passages,
      ),
      data.passages,
      log,
      heartbeat,
    );
    const publish = <T>(value: T): T =>
      this.pii.forChannel(value, resolvePiiPolicy(workflow.pii, tenantId).outputs, vault);
    const injected =
      workflow.validation.reviewInjectedInstructions === true
        ? [
            ...findInjectedInstructions(restoreValue(data.input, vault), data.passages),
            // Tool results are untrusted text like passages: the generator scanned its recorded rounds.
            ...(data.injectedInstructions ?? []).map((i) => ({
              source: `the result of tool ${i.tool} (call ${i.callId})`,
              excerpt: i.excerpt,
            })),
          ]
        : [];
    const outcome = decideOutcome(
      workflow,
      data.attempt,
      result,
      classification,
      data.context.modelTier,
      injected,
    );
    const violations = capList(outcome.kind === 'accept' ? [] : outcome.problems, 50, 1000);
    const { assessment } = result;
    annotateActiveSpan({
      'llmbus.validation.outcome': outcome.kind,
      'llmbus.validation.violations': violations.length,
      'llmbus.validation.confidence': assessment.confidence,
    });
    // An accepted generation is the common case and its outcome is on the trail, the span and
    // RequestCompleted: its line is at debug. Retries, reviews and failures stay at info.
    log[outcome.kind === 'accept' ? 'debug' : 'info'](
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
   * With `verify.model`, a valid output's claims go to the verifier model and its verdicts fold
   * into the confidence; an invalid output is not verified (it is retried or escalated anyway).
   */
  private async verified(
    workflow: LoadedWorkflow,
    result: OutputValidation,
    passages: ResponseGenerated['passages'],
    log: Logger,
    heartbeat?: Heartbeat,
  ): Promise<OutputValidation> {
    if (!workflow.verify?.model || !this.verifier || !result.valid || !result.output) return result;
    // Keeps the consumer's group membership alive while the verifier model works.
    const timer = heartbeat && setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    try {
      const verification = await this.verifier.verify(workflow, result.output, passages, result.citations);
      if (!verification) return result;
      log.info(
        {
          verifier: verification.failure ? 'failed' : 'verified',
          score: verification.score,
          claims: verification.verdicts.length,
          failure: verification.failure,
        },
        'claims verified',
      );
      return withVerification(result, verification);
    } finally {
      if (timer) clearInterval(timer);
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

  /** The response's workflow; an unknown one throws WorkflowError, which fails the request as is. */
  private workflowOf(ref: WorkflowRef): LoadedWorkflow {
    return this.workflows.get(ref.id, ref.version);
  }
}

function capList(lines: readonly string[], count: number, length: number): string[] {
  return lines.slice(0, count).map((line) => truncateText(line, length));
}
