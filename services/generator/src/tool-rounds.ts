import {
  MAX_TOOL_RESULT_CHARS,
  toStorableText,
  truncateText,
  type ToolApproval,
  type ToolCallResult,
  type ToolLoopState,
  type ToolRound,
} from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';
import { findInjectedInToolResults } from '@llmbus/workflows';
import {
  toolCallHash,
  type ToolAllowlist,
  type ToolCallRequest,
  type ToolGate,
  type ToolOutcome,
} from '@llmbus/tools';

/** A reviewer's decision on the call a round waits for. */
export interface ApprovalDecision {
  readonly callId: string;
  readonly decision: 'approve' | 'reject' | 'edit';
  readonly reviewer: string;
  /** The hash of the call as it was put to the reviewer: an approval authorises that call only. */
  readonly approvedCallHash: string;
  /** `edit`: the arguments to run instead (re-validated by the gate). */
  readonly arguments?: Record<string, unknown>;
  readonly comment?: string;
}

/** Where a round stands after running what it could: every call has a result, or one waits for a person. */
export type RoundProgress =
  | { readonly kind: 'completed'; readonly state: ToolLoopState }
  | { readonly kind: 'approval'; readonly state: ToolLoopState; readonly approval: ToolApproval };

/** How the round runner reaches tools and time; `approvalExpiryMs` is how long a person has to decide. */
export interface RoundRunnerOptions {
  readonly gate: ToolGate;
  readonly approvalExpiryMs: number;
  readonly now?: () => Date;
}

/**
 * Runs the calls of a loop's last round that have no result yet, in order, through the gate: a
 * refused call is recorded with the reason (never run); a `high` call stops the round until a
 * person decides, unless `decision` is that person's decision on it. Nothing here publishes: the
 * caller records the returned state on the bus before the model sees any result.
 */
export class ToolRoundRunner {
  private readonly now: () => Date;

  constructor(private readonly options: RoundRunnerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Runs what can run; `signal` aborts running calls (shutdown). */
  async run(
    state: ToolLoopState,
    allowlist: ToolAllowlist,
    tenant: string,
    signal: AbortSignal,
    log: Logger,
    decision?: ApprovalDecision,
  ): Promise<RoundProgress> {
    const round = lastRound(state);
    const results: ToolCallResult[] = [...round.results];
    for (const call of round.calls.slice(results.length)) {
      const request: ToolCallRequest = {
        call: {
          id: call.callId,
          tool: call.tool,
          arguments: call.arguments,
          ...(call.argumentsError !== undefined && { argumentsError: call.argumentsError }),
        },
        allowlist,
        tenant,
        round: round.round,
      };
      if (decision !== undefined && decision.callId === call.callId) {
        results.push(await this.decided(request, decision, signal));
        log.info(
          { callId: call.callId, tool: call.tool, decision: decision.decision, reviewer: decision.reviewer },
          'tool call decided by a reviewer',
        );
        continue;
      }
      const outcome = await this.options.gate.execute(request, signal);
      if (outcome.kind === 'needs_approval') {
        const waiting = withResults(state, results);
        const stated = round.assistantText.trim();
        // Tool output is untrusted: warn the approver when it reads as an order to make this call.
        const injected = findInjectedInToolResults(waiting.rounds);
        return {
          kind: 'approval',
          state: waiting,
          approval: {
            callId: call.callId,
            tool: call.tool,
            arguments: call.arguments,
            callHash: outcome.callHash,
            argumentsSchema: outcome.tool.argumentsSchema,
            ...(state.context.requester.userId !== undefined && {
              requestedBy: state.context.requester.userId,
            }),
            reason: stated === '' ? null : stated,
            reasonStated: stated !== '',
            ...(injected.length > 0 && { injectedInstructions: injected }),
            expiresAt: new Date(this.now().getTime() + this.options.approvalExpiryMs).toISOString(),
            loop: waiting,
          },
        };
      }
      if (outcome.kind === 'outcome_unknown')
        log.warn(
          { callId: call.callId, tool: call.tool },
          'tool call was claimed before and has no recorded result: not run again, outcome unknown',
        );
      else log.info({ callId: call.callId, tool: call.tool, outcome: outcome.kind }, 'tool call gated');
      results.push(resultOf(request, outcome));
    }
    return { kind: 'completed', state: withResults(state, results) };
  }

  private async decided(
    request: ToolCallRequest,
    decision: ApprovalDecision,
    signal: AbortSignal,
  ): Promise<ToolCallResult> {
    const { call } = request;
    const reviewer = decision.reviewer;
    const comment = decision.comment ? `: ${decision.comment}` : '';
    switch (decision.decision) {
      case 'reject':
        return {
          callId: call.id,
          tool: call.tool,
          arguments: { ...call.arguments },
          status: 'rejected',
          code: 'rejected_by_reviewer',
          content: `a reviewer rejected this call${comment}. Do not call it again; answer with what you have.`,
          reviewer,
        };
      case 'approve':
        // Bound to the hash shown to the reviewer: if the call differs, the gate refuses it.
        return {
          ...resultOf(request, await this.options.gate.execute(request, signal, decision.approvedCallHash)),
          reviewer,
        };
      case 'edit': {
        // The reviewer approved the call with their arguments; the gate re-validates them.
        const edited: ToolCallRequest = {
          ...request,
          call: { ...call, arguments: decision.arguments ?? {} },
        };
        const outcome = await this.options.gate.execute(edited, signal, toolCallHash(edited.call));
        return { ...resultOf(edited, outcome), reviewer };
      }
    }
  }
}

/** The loop's current round; a loop event always has one. */
export function lastRound(state: ToolLoopState): ToolRound {
  const round = state.rounds.at(-1);
  if (round === undefined) throw new Error(`tool loop of ${state.requestId} has no round`);
  return round;
}

function withResults(state: ToolLoopState, results: ToolCallResult[]): ToolLoopState {
  const round = lastRound(state);
  return { ...state, rounds: [...state.rounds.slice(0, -1), { ...round, results }] };
}

function resultOf(request: ToolCallRequest, outcome: ToolOutcome): ToolCallResult {
  const { call } = request;
  const base = { callId: call.id, tool: call.tool, arguments: { ...call.arguments } };
  switch (outcome.kind) {
    case 'completed':
      return {
        ...base,
        status: 'completed',
        content: toStorableText(truncateText(outcome.result.content, MAX_TOOL_RESULT_CHARS)),
        origin: `${outcome.result.origin.kind}:${outcome.result.origin.source}`,
        // Cut again at the event's limit whatever the tool's cap: say so.
        truncated: outcome.result.truncated || outcome.result.content.length > MAX_TOOL_RESULT_CHARS,
        callHash: outcome.callHash,
        ...(outcome.result.cached === true ? { cached: true } : {}),
      };
    case 'failed':
      return {
        ...base,
        status: 'failed',
        code: outcome.error.code,
        content: truncateText(outcome.error.message, 2000),
        callHash: outcome.callHash,
      };
    case 'refused':
      return { ...base, status: 'refused', code: outcome.code, content: truncateText(outcome.reason, 2000) };
    case 'outcome_unknown':
      return {
        ...base,
        status: 'outcome_unknown',
        code: 'outcome_unknown',
        content:
          'this call was started earlier but its result was never recorded (the generator stopped while it ran), ' +
          'so it was not run again: it may or may not have taken effect. Do not assume either; ' +
          'say in your answer that its outcome is unknown and must be checked.',
        callHash: outcome.callHash,
      };
    case 'needs_approval':
      // Only reached for an edited call that the gate still wants approved: never run it.
      return {
        ...base,
        status: 'refused',
        code: 'approval_mismatch',
        content: 'this call needs an approval of its own; it was not executed',
      };
  }
}
