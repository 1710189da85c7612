import { HandlerContext, outgoing, Outgoing } from '@llmbus/bus';
import {
  ContextRetrieved,
  ContextRetrievedEvent,
  EventEnvelope,
  RegenerationRequested,
  RegenerationRequestedEvent,
  RequestFailedEvent,
  ResponseGeneratedEvent,
  ReviewDecided,
  ReviewDecidedEvent,
  ReviewRequestedEvent,
  ToolCallsCompleted,
  ToolCallsCompletedEvent,
  ToolCallsRequested,
  ToolCallsRequestedEvent,
  truncateText,
  type ToolLoopState,
} from '@llmbus/contracts';
import type { RetryGuidance } from '@llmbus/workflows';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DraftPublisher } from './draft-stream';
import { ModelCallRecorder } from './model-call-recorder';
import { ToolLoop, type LoopStep } from './tool-loop';
import { ToolRoundRunner, type ApprovalDecision, type RoundProgress } from './tool-rounds';

const HEARTBEAT_EVERY_MS = 5000;

/**
 * Generates a response for retrieved context (attempt 1) and for each requested regeneration;
 * for workflows with tools, drives the tool loop one recorded step per event: model call →
 * ToolCallsRequested → gated calls (or a tool-approval review) → ToolCallsCompleted → model call.
 */
@Controller()
export class GeneratorEventsController {
  constructor(
    private readonly loop: ToolLoop,
    private readonly rounds: ToolRoundRunner,
    private readonly calls: ModelCallRecorder,
    private readonly drafts: DraftPublisher,
  ) {}

  @EventPattern(ContextRetrievedEvent.type)
  async retrieved(
    @Payload() event: EventEnvelope<ContextRetrieved>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const source = { ...event.data, tenantId: event.tenantid };
    const drafts = this.drafts.opener(event, event.data.requestId, 1, ctx.log);
    const step = await this.loop.start(source, 1, ctx.heartbeat, ctx.log, undefined, drafts);
    return this.stepOutputs(step, event, ctx, 1);
  }

  @EventPattern(RegenerationRequestedEvent.type)
  async regenerate(
    @Payload() event: EventEnvelope<RegenerationRequested>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { attempt, violations, stricterInstruction } = event.data;
    const source = { ...event.data, tenantId: event.tenantid };
    const retry: RetryGuidance = { attempt, violations, instruction: stricterInstruction };
    const drafts = this.drafts.opener(event, event.data.requestId, attempt, ctx.log);
    const step = await this.loop.start(source, attempt, ctx.heartbeat, ctx.log, retry, drafts);
    return this.stepOutputs(step, event, ctx, attempt);
  }

  /** Runs the calls of a recorded round (never before it is recorded) and records their results. */
  @EventPattern(ToolCallsRequestedEvent.type)
  async toolCallsRequested(
    @Payload() event: EventEnvelope<ToolCallsRequested>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    return this.runRound(event.data, event.tenantid, ctx);
  }

  /** The next model call, from the recorded results: a restart resumes here, no call runs again. */
  @EventPattern(ToolCallsCompletedEvent.type)
  async toolCallsCompleted(
    @Payload() event: EventEnvelope<ToolCallsCompleted>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const drafts = this.drafts.opener(event, event.data.requestId, event.data.attempt, ctx.log);
    const step = await this.loop.continue(event.data, event.tenantid, ctx.heartbeat, ctx.log, drafts);
    return this.stepOutputs(step, event, ctx, event.data.attempt);
  }

  /**
   * A decision on a tool approval resumes the loop from the state it carries, in any replica.
   * Decisions on output reviews are the validator's; a decision taken after the approval expired
   * ends the request.
   */
  @EventPattern(ReviewDecidedEvent.type)
  async reviewDecided(
    @Payload() event: EventEnvelope<ReviewDecided>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { review } = event.data;
    const approval = review.toolApproval;
    if (review.kind !== 'tool-approval' || approval === undefined) return [];
    const state = approval.loop;
    if (Date.parse(event.time) > Date.parse(approval.expiresAt)) {
      return [
        outgoing(
          RequestFailedEvent,
          {
            requestId: state.requestId,
            code: 'approval_expired',
            message: `the approval of ${approval.tool} (call ${approval.callId}) expired at ${approval.expiresAt}, before the decision of ${event.data.reviewer}; submit the request again`,
            stage: 'generator',
            details: [`expiresAt: ${approval.expiresAt}`],
            replyTo: state.context.replyTo,
          },
          { attempt: state.attempt },
        ),
      ];
    }
    const decision: ApprovalDecision = {
      callId: approval.callId,
      decision: event.data.decision,
      reviewer: event.data.reviewer,
      approvedCallHash: approval.callHash,
      arguments: event.data.arguments,
      comment: event.data.comment,
    };
    return this.runRound(state, event.tenantid, ctx, decision);
  }

  private async runRound(
    state: ToolLoopState,
    tenant: string,
    ctx: HandlerContext,
    decision?: ApprovalDecision,
  ): Promise<Outgoing[]> {
    const allowlist = this.loop.allowlistOf(state.context) ?? { tools: [], maxToolRounds: 0 };
    // Tools can outlast a session: keep the consumer's membership alive while they run.
    const timer = setInterval(() => void ctx.heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    let progress: RoundProgress;
    try {
      progress = await this.rounds.run(state, allowlist, tenant, ctx.signal, ctx.log, decision);
    } finally {
      clearInterval(timer);
    }
    if (progress.kind === 'completed') {
      return [outgoing(ToolCallsCompletedEvent, progress.state, { attempt: state.attempt })];
    }
    const { approval } = progress;
    ctx.log.info({ callId: approval.callId, tool: approval.tool }, 'tool call waits for approval');
    return [
      outgoing(
        ReviewRequestedEvent,
        {
          kind: 'tool-approval',
          requestId: state.requestId,
          context: state.context,
          input: state.input,
          passages: state.passages,
          reason: truncateText(
            approval.reason === null
              ? `approve ${approval.tool} (the model gave no reason)`
              : `approve ${approval.tool}: ${approval.reason}`,
            2000,
          ),
          violations: [],
          text: truncateText(`${approval.tool}(${JSON.stringify(approval.arguments)})`, 200_000),
          attempts: state.attempt,
          usage: state.usage,
          toolApproval: approval,
        },
        { attempt: state.attempt },
      ),
    ];
  }

  private async stepOutputs(
    step: LoopStep,
    cause: EventEnvelope,
    ctx: HandlerContext,
    attempt: number,
  ): Promise<Outgoing[]> {
    const { requestId, context } = step.kind === 'answer' ? step.generated : step.state;
    const record = await this.calls.recordCall(
      { requestId, attempt, workflow: context.workflow, ...step.billed },
      cause,
      ctx.log,
    );
    if (step.kind === 'answer')
      return [outgoing(ResponseGeneratedEvent, step.generated, { attempt }), ...record];
    return [outgoing(ToolCallsRequestedEvent, step.state, { attempt }), ...record];
  }
}
