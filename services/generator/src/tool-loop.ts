import { EventRejectedError, type Heartbeat } from '@llmbus/bus';
import type { ModelUsage, RequestContext, ResponseGenerated, ToolLoopState } from '@llmbus/contracts';
import type { ToolDefinition as ModelToolDefinition } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { ANY_TENANT, type ToolAllowlist, type ToolRegistry } from '@llmbus/tools';
import {
  findInjectedInToolResults,
  passagesToAnswerFrom,
  DEFAULT_MAX_TOOL_ROUNDS,
  type LoadedWorkflow,
  type RetryGuidance,
  type WorkflowRegistry,
} from '@llmbus/workflows';
import type { OpenDraft } from './draft-stream';
import type { GenerationInput, ResponseGeneration } from './response-generation';
import { lastRound } from './tool-rounds';

/** The billing facts of one model call: its own id and usage (not the loop's). */
export interface BilledCall {
  readonly callId?: string;
  readonly usage: ModelUsage;
}

/** What a model call of the loop led to: the answer, or a new round of calls to record and run. */
export type LoopStep =
  | { readonly kind: 'answer'; readonly generated: ResponseGenerated; readonly billed: BilledCall }
  | { readonly kind: 'requested'; readonly state: ToolLoopState; readonly billed: BilledCall };

/**
 * The model side of the tool loop: calls the model with the workflow's allowed tools and the
 * recorded rounds, and turns tool calls into the next round (call ids derived from request,
 * attempt, round and position, so a repeated model call names the same calls). Workflows without
 * `generate.tools` get one plain generation.
 */
export class ToolLoop {
  constructor(
    private readonly generation: ResponseGeneration,
    private readonly workflows: WorkflowRegistry,
    private readonly tools: ToolRegistry,
  ) {}

  /** The workflow's allowlist, or undefined when it allows no tools. */
  allowlistOf(context: RequestContext): ToolAllowlist | undefined {
    const generate = this.workflowOf(context).generate;
    if (generate === undefined || generate.tools.length === 0) return undefined;
    return { tools: generate.tools, maxToolRounds: generate.maxToolRounds ?? DEFAULT_MAX_TOOL_ROUNDS };
  }

  /** First model call of a generation (ContextRetrieved or a regeneration). */
  async start(
    given: GenerationInput & { readonly tenantId: string },
    attempt: number,
    heartbeat: Heartbeat,
    log: Logger,
    retry?: RetryGuidance,
    openDraft?: OpenDraft,
  ): Promise<LoopStep> {
    const passages = passagesToAnswerFrom(
      this.workflowOf(given.context).retrieval,
      given.passages,
      given.answerable,
    );
    if (passages.length < given.passages.length)
      log.info(
        { withheldPassages: given.passages.length },
        'retrieval found nothing that answers the question: the model answers without passages',
      );
    const source = { ...given, passages };
    const allowlist = this.allowlistOf(source.context);
    if (allowlist === undefined) {
      const generated = await this.generation.generate(source, attempt, heartbeat, log, retry, openDraft);
      return { kind: 'answer', generated, billed: { callId: generated.callId, usage: generated.usage } };
    }
    const state: ToolLoopState = {
      requestId: source.requestId,
      context: source.context,
      input: source.input,
      passages: source.passages,
      attempt,
      rounds: [],
      usage: zeroUsage(),
    };
    return this.next(state, source.tenantId, allowlist, heartbeat, log, retry, openDraft);
  }

  /** The model call after a recorded round (ToolCallsCompleted): it sees every result so far. */
  async continue(
    state: ToolLoopState,
    tenantId: string,
    heartbeat: Heartbeat,
    log: Logger,
    openDraft?: OpenDraft,
  ): Promise<LoopStep> {
    const allowlist = this.allowlistOf(state.context);
    if (allowlist === undefined) {
      throw new EventRejectedError(
        'invalid_payload',
        `workflow ${state.context.workflow.id}@${state.context.workflow.version} allows no tools, yet request ${state.requestId} has a tool round`,
      );
    }
    return this.next(state, tenantId, allowlist, heartbeat, log, undefined, openDraft);
  }

  private async next(
    state: ToolLoopState,
    tenantId: string,
    allowlist: ToolAllowlist,
    heartbeat: Heartbeat,
    log: Logger,
    retry?: RetryGuidance,
    openDraft?: OpenDraft,
  ): Promise<LoopStep> {
    const done = state.rounds.length;
    if (done > 0 && lastRound(state).results.length < lastRound(state).calls.length) {
      throw new EventRejectedError(
        'invalid_payload',
        `round ${done} of request ${state.requestId} still has calls without results`,
      );
    }
    if (done > allowlist.maxToolRounds) {
      throw new EventRejectedError(
        'model_error',
        `the model kept calling tools after the workflow's limit of ${allowlist.maxToolRounds} rounds, though it was told to answer`,
        [`maxToolRounds: ${allowlist.maxToolRounds}`],
      );
    }
    // Once the rounds are used up the model is offered no tools and must answer.
    const offered = done < allowlist.maxToolRounds ? this.offered(allowlist, tenantId) : [];
    const source = { ...state, tenantId };
    const step = await this.generation.step(
      source,
      state.attempt,
      heartbeat,
      log,
      retry,
      {
        offered,
        rounds: state.rounds,
        usage: state.usage,
        maxResultBytes: (tool) => this.tools.definition(tool)?.maxResultBytes ?? 16_384,
      },
      openDraft,
    );
    if (step.kind === 'answer') {
      const injected = findInjectedInToolResults(state.rounds);
      return {
        kind: 'answer',
        generated:
          injected.length > 0 ? { ...step.generated, injectedInstructions: injected } : step.generated,
        billed: { callId: step.generated.callId, usage: step.callUsage },
      };
    }
    const round = done + 1;
    log.info({ round, tools: step.calls.map((c) => c.tool) }, 'model asked for tool calls');
    return {
      kind: 'requested',
      billed: { callId: step.callId, usage: step.usage },
      state: {
        ...state,
        usage: step.loopUsage,
        rounds: [
          ...state.rounds,
          {
            round,
            assistantText: step.assistantText,
            calls: step.calls.slice(0, 16).map((call, index) => ({
              callId: `${state.requestId}.a${state.attempt}.t${round}.${index}`,
              tool: call.tool,
              arguments: call.arguments,
              ...(call.argumentsError !== undefined && { argumentsError: call.argumentsError }),
            })),
            results: [],
          },
        ],
      },
    };
  }

  /** Tools the model is shown: in the allowlist, declared, and permitted for the tenant. */
  private offered(allowlist: ToolAllowlist, tenantId: string): ModelToolDefinition[] {
    return allowlist.tools.flatMap((name) => {
      const tool = this.tools.definition(name);
      if (tool === undefined) return [];
      if (!tool.tenants.includes(ANY_TENANT) && !tool.tenants.includes(tenantId)) return [];
      return [{ name: tool.name, description: tool.description, parameters: tool.argumentsSchema }];
    });
  }

  /** The request's workflow; an unknown one throws WorkflowError, which fails the request as is. */
  private workflowOf(context: RequestContext): LoadedWorkflow {
    return this.workflows.get(context.workflow.id, context.workflow.version);
  }
}

/**
 * Checks that every tool a workflow allowlists is declared; throws naming the workflow file and
 * the missing tools, so a typo stops the generator at start-up instead of refusing every call.
 */
export function assertWorkflowToolsDeclared(workflows: readonly LoadedWorkflow[], tools: ToolRegistry): void {
  const problems = workflows.flatMap((workflow) => {
    const missing = (workflow.generate?.tools ?? []).filter((name) => tools.definition(name) === undefined);
    return missing.length === 0
      ? []
      : [`${workflow.source}: generate.tools names ${missing.join(', ')}, which no tools file declares`];
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
}

function zeroUsage(): ModelUsage {
  return {
    modelId: 'none',
    provider: 'none',
    promptTokens: 0,
    completionTokens: 0,
    costUsd: 0,
    latencyMs: 0,
  };
}
