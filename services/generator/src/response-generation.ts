import { randomUUID } from 'node:crypto';
import { EventRejectedError, Heartbeat } from '@llmbus/bus';
import {
  TOOL_NAME_PATTERN,
  toStorableText,
  toStorableValue,
  truncateText,
  type Passage,
  type ModelUsage,
  type RequestContext,
  type ResponseGenerated,
  type ToolRound,
} from '@llmbus/contracts';
import {
  conservativeTokenCounter,
  ModelError,
  ModelRegistryError,
  responseCacheKey,
  type ChatMessage,
  type ChatRequest,
  type ChatResponse,
  type ModelProvider,
  type ResponseCache,
  type ToolDefinition as ModelToolDefinition,
} from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { PiiProtection, PiiVaultError, resolvePiiPolicy } from '@llmbus/pii';
import {
  cascadeTierOf,
  groundedOutputSchema,
  PromptRenderer,
  PromptTooLargeError,
  RenderedPrompt,
  RetryGuidance,
  TokenCounter,
  WorkflowRegistry,
  type LoadedWorkflow,
} from '@llmbus/workflows';
import type { DraftSink, OpenDraft } from './draft-stream';
import type { ChatModelChoice, ModelSelection } from './generator-deps';
import { fitToolHistory, ToolHistoryTooLargeError } from './tool-history-fit';
import { sumUsage } from './tool-messages';

/** The request state a generation starts from (ContextRetrieved or RegenerationRequested). */
export interface GenerationInput {
  readonly requestId: string;
  readonly context: RequestContext;
  readonly input: Record<string, unknown>;
  readonly passages: Passage[];
  /** The retriever's verdict (ContextRetrieved.answerable): false lets a workflow that abstains on it withhold the passages. */
  readonly answerable?: boolean;
  /** The request's tenant (from the envelope): selects the tenant's overrides of the PII policy. */
  readonly tenantId?: string;
}

/**
 * The tool side of one generation: the tools offered to the model (already filtered by the
 * workflow's allowlist and the tenant), the rounds recorded so far and their usage. With tools
 * offered the model may answer or ask for calls; with none it must answer.
 */
export interface ToolTurn {
  readonly offered: readonly ModelToolDefinition[];
  readonly rounds: readonly ToolRound[];
  /** Usage of the loop's earlier model calls, added to this call's in the answer. */
  readonly usage?: ModelUsage;
  /** Result text cap per tool, UTF-8 bytes, for the delimited blocks the model sees. */
  readonly maxResultBytes: (tool: string) => number;
}

/** What one model call produced: the answer (a ResponseGenerated) or a round of tool calls to record. */
export type GenerationStep =
  | { readonly kind: 'answer'; readonly generated: ResponseGenerated; readonly callUsage: ModelUsage }
  | {
      readonly kind: 'tools';
      /** The model's words alongside its calls: its stated reason. */
      readonly assistantText: string;
      readonly calls: readonly {
        readonly tool: string;
        readonly arguments: Record<string, unknown>;
        /** Set when the model's arguments were not a JSON object: the gate refuses the call. */
        readonly argumentsError?: string;
      }[];
      /** This call's usage and billing id; `loopUsage` adds the earlier calls'. */
      readonly usage: ModelUsage;
      readonly loopUsage: ModelUsage;
      readonly callId: string;
    };

const HEARTBEAT_EVERY_MS = 5000;
/** The tool recorded for a call whose name no tool can have; never declared, so always refused. */
const INVALID_TOOL_NAME = 'invalid_tool_name';
const MAX_TEXT = 200_000;

/**
 * One generation: render the workflow's prompt within the model's window, call the model with the
 * workflow's output schema, and describe the result as a ResponseGenerated payload. Retryable model
 * errors propagate (the bus retries them); everything that cannot succeed becomes EventRejectedError.
 */
export class ResponseGeneration {
  private readonly renderer = new PromptRenderer();
  /** The provider's tokenizer per model id ('' for the default model), asked once. */
  private readonly counters = new Map<string, Promise<TokenCounter>>();

  constructor(
    private readonly workflows: WorkflowRegistry,
    private readonly models: ModelProvider,
    private readonly selectModel: (
      tier: RequestContext['modelTier'],
      selection?: ModelSelection,
    ) => ChatModelChoice,
    private readonly tokenCounter: TokenCounter | undefined,
    private readonly timeoutMs: number,
    /** Masks prompts for models not trusted with PII; without it prompts go out as rendered. */
    private readonly pii?: PiiProtection,
    /** Answers of workflows with `model.cache`, scoped by tenant and workflow version. */
    private readonly responseCache?: ResponseCache,
  ) {}

  /** Generates attempt `attempt` for a request; `retry` carries the stricter instruction of a regeneration. */
  async generate(
    source: GenerationInput,
    attempt: number,
    heartbeat: Heartbeat,
    log: Logger,
    retry?: RetryGuidance,
    openDraft?: OpenDraft,
  ): Promise<ResponseGenerated> {
    const step = await this.step(source, attempt, heartbeat, log, retry, undefined, openDraft);
    if (step.kind !== 'answer') throw new Error('a generation without tools returned tool calls');
    return step.generated;
  }

  /**
   * One model call of a generation: with `tools`, the recorded rounds follow the prompt (each
   * result in a delimited untrusted block) and the model may ask for more calls instead of
   * answering. Tool calls come back unvalidated: the caller's gate decides on each.
   */
  async step(
    source: GenerationInput,
    attempt: number,
    heartbeat: Heartbeat,
    log: Logger,
    retry?: RetryGuidance,
    tools?: ToolTurn,
    openDraft?: OpenDraft,
  ): Promise<GenerationStep> {
    const workflow = this.workflowOf(source.context);
    const model = this.chooseModel(workflow, source.context, attempt);
    const counter = await this.counterFor(model);
    const rendered = this.render(workflow, source, model, counter, retry);
    if (rendered.droppedPassageIds.length || rendered.truncatedField) {
      log.info(
        { dropped: rendered.droppedPassageIds, truncated: rendered.truncatedField },
        'prompt truncated to fit the context window',
      );
    }
    this.checkBudget(source.context, model, rendered.promptTokens);
    const dropped = new Set(rendered.droppedPassageIds);
    const shown = source.passages.map((p) => p.id).filter((id) => !dropped.has(id));
    const schema = groundedOutputSchema(workflow, shown);
    // Each call is billed, so each gets an id of its own, even when a redelivery repeats it.
    const callId = randomUUID();
    const fitted =
      tools === undefined
        ? { messages: [], maxOutputTokens: source.context.budget.maxOutputTokens }
        : this.fitRounds(source, model, counter, rendered, schema, tools, log);
    const sent = this.minimise(workflow, source, model, rendered, fitted.messages);
    const draft =
      workflow.output.stream === true && openDraft !== undefined
        ? openDraft(resolvePiiPolicy(workflow.pii, source.tenantId).outputs)
        : undefined;
    const response = await this.callModel(
      workflow,
      source,
      model,
      schema,
      sent.messages,
      heartbeat,
      attempt,
      draft,
      tools?.offered ?? [],
      fitted.maxOutputTokens,
    );
    if (response.usage.costUsd > source.context.budget.maxCostUsd) {
      log.warn(
        { costUsd: response.usage.costUsd, maxCostUsd: source.context.budget.maxCostUsd },
        'model call exceeded the cost budget',
      );
    }
    const usage = tools?.usage === undefined ? { ...response.usage } : sumUsage(tools.usage, response.usage);
    if (response.toolCalls.length > 0) {
      return {
        kind: 'tools',
        assistantText: toStorableText(truncateText(response.text, 8000)),
        // A name no tool can have (`x-y`, `functions.x`, control characters) is recorded as
        // `invalid_tool_name` with the name as asked: the gate refuses it and the model is told,
        // instead of the whole round failing the event's schema.
        calls: response.toolCalls.map((call) =>
          TOOL_NAME_PATTERN.test(call.name)
            ? {
                tool: call.name,
                arguments: { ...call.arguments },
                ...(call.argumentsError !== undefined && {
                  argumentsError: toStorableText(truncateText(call.argumentsError, 2000)),
                }),
              }
            : {
                tool: INVALID_TOOL_NAME,
                arguments: { requestedTool: toStorableText(truncateText(call.name, 200)) },
              },
        ),
        usage: { ...response.usage },
        loopUsage: usage,
        callId,
      };
    }
    const generated: ResponseGenerated = {
      requestId: source.requestId,
      context: source.context,
      input: source.input,
      passages: source.passages,
      attempt,
      prompt: rendered.promptRef,
      renderedPrompt: truncateText(JSON.stringify(sent.messages), MAX_TEXT),
      // Model output enters the platform here: normalised so no consumer refuses it (U+0000, lone surrogates).
      text: toStorableText(truncateText(response.text, MAX_TEXT)),
      output: isRecord(response.json) ? toStorableValue(response.json) : undefined,
      usage,
      callId,
      piiVault: sent.piiVault,
    };
    return { kind: 'answer', generated, callUsage: { ...response.usage } };
  }

  /**
   * The recorded rounds fitted to the model's window minus the completion budget (see
   * fitToolHistory): the prompt, the offered tools and the reply format are counted first, with
   * the counter that rendered the prompt. Only the prompt is fitted; the rounds on the bus stay
   * whole. A history that cannot fit even at the output floor fails the request as `oversize`.
   */
  private fitRounds(
    source: GenerationInput,
    model: ChatModelChoice,
    counter: TokenCounter,
    rendered: RenderedPrompt,
    schema: Record<string, unknown>,
    tools: ToolTurn,
    log: Logger,
  ): { messages: ChatMessage[]; maxOutputTokens: number } {
    const offered = tools.offered.length === 0 ? 0 : counter.count(JSON.stringify(tools.offered));
    try {
      const fitted = fitToolHistory(tools.rounds, {
        counter,
        contextWindow: model.contextWindow,
        baseTokens: rendered.promptTokens + offered + counter.count(JSON.stringify(schema)),
        maxOutputTokens: source.context.budget.maxOutputTokens,
        maxResultBytes: tools.maxResultBytes,
      });
      if (
        fitted.shortenedRounds.length > 0 ||
        fitted.summarisedRounds.length > 0 ||
        fitted.maxOutputTokens < source.context.budget.maxOutputTokens
      ) {
        log.info(
          {
            shortenedRounds: fitted.shortenedRounds,
            summarisedRounds: fitted.summarisedRounds,
            maxOutputTokens: fitted.maxOutputTokens,
            promptTokens: fitted.promptTokens,
            contextWindow: model.contextWindow,
          },
          'tool rounds fitted to the context window',
        );
      }
      return fitted;
    } catch (error) {
      if (error instanceof ToolHistoryTooLargeError) {
        throw new EventRejectedError('oversize', `request ${source.requestId}: ${error.message}`);
      }
      throw error;
    }
  }

  /**
   * The prompt as a model not trusted with PII may see it: every entity masked (or redacted) per
   * the workflow's prompt policy, the placeholder mapping sealed for the validator. Trusted models
   * get the prompt as rendered.
   */
  private minimise(
    workflow: LoadedWorkflow,
    source: GenerationInput,
    model: ChatModelChoice,
    rendered: RenderedPrompt,
    history: readonly ChatMessage[],
  ): { messages: ChatMessage[]; piiVault?: ResponseGenerated['piiVault'] } {
    const all: ChatMessage[] = [
      { role: 'system', content: rendered.system },
      { role: 'user', content: rendered.user },
      ...history,
    ];
    if (this.pii === undefined || model.trustedForPii === true) return { messages: all };
    const policy = resolvePiiPolicy(workflow.pii, source.tenantId).prompts;
    // Tool results are masked with the prompt (one vault, consistent placeholders); the model's
    // own tool-call arguments are passed on as it wrote them.
    const masked = this.pii.maskMessages(
      all.map((m) => m.content),
      policy,
    );
    const messages = all.map((m, i) => ({ ...m, content: masked.messages[i] ?? '' }));
    const vault = masked.vault;
    if (vault.size === 0) return { messages };
    try {
      return { messages, piiVault: this.pii.seal(vault, source.requestId) };
    } catch (error) {
      if (error instanceof PiiVaultError) throw new EventRejectedError('processing_error', error.message);
      throw error;
    }
  }

  /**
   * The model of one attempt: the workflow's pinned `model.id`; else, with a `model.cascade`, the
   * tier of this attempt (attempt 1 the request's routed tier, or the first when the cascade does
   * not list it, each regeneration one tier up, the last one repeated); else the request's tier. A pinned model this process does not serve fails the
   * request as `model_error`, naming the model and why.
   */
  private chooseModel(workflow: LoadedWorkflow, context: RequestContext, attempt: number): ChatModelChoice {
    const tier = cascadeTierOf(workflow, attempt, context.modelTier) ?? context.modelTier;
    try {
      return this.selectModel(tier, workflow.model.id === undefined ? {} : { pin: workflow.model.id });
    } catch (error) {
      if (error instanceof ModelRegistryError) {
        throw new EventRejectedError(
          'model_error',
          `workflow ${workflow.id}@${workflow.version}: ${error.message}`,
        );
      }
      throw error;
    }
  }

  /**
   * How prompts for `model` are counted: the configured counter, else the model's own tokenizer
   * (node-llama-cpp for local models, gpt-tokenizer for OpenAI models), else a conservative upper
   * bound, so dense text (digits, CJK) is truncated rather than overflowing the window.
   */
  private counterFor(model: ChatModelChoice): Promise<TokenCounter> {
    if (this.tokenCounter !== undefined) return Promise.resolve(this.tokenCounter);
    const key = model.modelId ?? '';
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = Promise.resolve(this.models.tokenCounter?.(model.modelId)).then(
        (found) => found ?? conservativeTokenCounter,
        () => conservativeTokenCounter,
      );
      this.counters.set(key, counter);
    }
    return counter;
  }

  private render(
    workflow: LoadedWorkflow,
    source: GenerationInput,
    model: ChatModelChoice,
    tokenCounter: TokenCounter,
    retry?: RetryGuidance,
  ): RenderedPrompt {
    try {
      return this.renderer.render(workflow, source.input, source.passages, {
        contextWindow: model.contextWindow,
        tokenCounter,
        retry,
        classification: source.context.classification,
      });
    } catch (error) {
      if (error instanceof PromptTooLargeError) throw new EventRejectedError('oversize', error.message);
      throw error;
    }
  }

  /** Refuses a call whose worst case (full prompt, every allowed output token) exceeds the budget. */
  private checkBudget(context: RequestContext, model: ChatModelChoice, promptTokens: number): void {
    if (model.pricePer1MInputUsd === undefined || model.pricePer1MOutputUsd === undefined) return;
    const { maxOutputTokens, maxCostUsd } = context.budget;
    const worstCase =
      (promptTokens * model.pricePer1MInputUsd + maxOutputTokens * model.pricePer1MOutputUsd) / 1_000_000;
    if (worstCase <= maxCostUsd) return;
    throw new EventRejectedError(
      'budget_exceeded',
      `a call to ${model.modelId ?? 'the model'} could cost up to $${worstCase.toFixed(6)} (${promptTokens} prompt + ${maxOutputTokens} output tokens), ` +
        `over the workflow's budget of $${maxCostUsd}; raise model.budget.maxCostUsd or lower maxOutputTokens in workflow ${context.workflow.id}@${context.workflow.version}, or route it to a cheaper tier`,
      [`budget.maxCostUsd: ${maxCostUsd}`, `estimated: ${worstCase.toFixed(6)}`],
    );
  }

  /** The request's workflow; an unknown one throws WorkflowError, which fails the request as is. */
  private workflowOf(context: RequestContext): LoadedWorkflow {
    return this.workflows.get(context.workflow.id, context.workflow.version);
  }

  private async callModel(
    workflow: LoadedWorkflow,
    source: GenerationInput,
    model: ChatModelChoice,
    schema: Record<string, unknown>,
    messages: readonly ChatMessage[],
    heartbeat: Heartbeat,
    attempt: number,
    draft: DraftSink | undefined,
    tools: readonly ModelToolDefinition[],
    maxOutputTokens: number,
  ): Promise<ChatResponse> {
    // Keeps the consumer's group membership alive while the model works (the bus heartbeats too).
    const timer = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    const started = Date.now();
    const request: ChatRequest = {
      model: model.modelId,
      tenant: source.tenantId,
      messages,
      responseSchema: { name: schemaName(workflow), schema },
      // The generator's gate decides on every call (allowlist, tenant, schema, approval) and
      // tells the model why one is refused, so the provider returns calls as made.
      ...(tools.length > 0 && { tools, toolChoice: 'auto' as const, validateToolCalls: false }),
      maxTokens: maxOutputTokens,
      timeoutMs: this.timeoutMs,
      ...(draft === undefined ? {} : { onDelta: (delta: { text: string }) => draft.push(delta.text) }),
    };
    // Only first attempts without tools use the cache: a regeneration asks for a different
    // answer, and a tool loop's step depends on results the cache key does not see.
    const cacheKey =
      workflow.model.cache !== undefined &&
      this.responseCache !== undefined &&
      source.tenantId !== undefined &&
      attempt === 1 &&
      tools.length === 0
        ? responseCacheKey(
            { tenant: source.tenantId, workflowId: workflow.id, workflowVersion: workflow.version },
            model.modelId ?? '',
            request,
          )
        : undefined;
    try {
      if (cacheKey !== undefined) {
        const hit = await this.responseCache?.get(cacheKey);
        if (hit !== undefined) {
          draft?.push(hit.text);
          // The original call's failed fallbacks are not this call's.
          const { fallbackAttempts: _original, ...hitUsage } = hit.usage;
          return {
            ...hit,
            usage: {
              ...hitUsage,
              promptTokens: 0,
              completionTokens: 0,
              costUsd: 0,
              latencyMs: Date.now() - started,
              cached: true,
              costSavedUsd: hit.usage.costUsd,
            },
          };
        }
      }
      const response = await this.models.chat(request);
      if (cacheKey !== undefined && workflow.model.cache !== undefined) {
        await this.responseCache?.set(cacheKey, response, workflow.model.cache.ttlSeconds * 1000);
      }
      return response;
    } catch (error) {
      if (error instanceof ModelError && error.code === 'malformed_output') {
        // An answer that does not parse is the validator's business: it asks for a stricter
        // retry, then a human, as the workflow says. Retrying the same prompt here would not.
        return {
          text: toStorableText(
            truncateText(`[the model's answer was not valid output: ${error.message}]`, 2000),
          ),
          toolCalls: [],
          finishReason: 'stop',
          // The provider billed the answer even though it is unusable: record what it reported.
          usage: error.usage ?? {
            modelId: error.modelId ?? model.modelId ?? 'unknown',
            provider: error.provider ?? this.models.name,
            promptTokens: 0,
            completionTokens: 0,
            costUsd: 0,
            latencyMs: Date.now() - started,
          },
        };
      }
      if (error instanceof ModelError && !error.retryable) {
        // An exhausted quota is a rate limit that waiting will not lift: `rate_limited`, so the
        // requester can tell "out of budget" from a broken model.
        throw new EventRejectedError(
          error.code === 'rate_limited' ? 'rate_limited' : 'model_error',
          `the model call failed (${error.code}): ${error.message}`,
          [`model: ${error.modelId ?? model.modelId ?? 'default'}`],
        );
      }
      throw error;
    } finally {
      clearInterval(timer);
      await draft?.end();
    }
  }
}

/** `^[a-zA-Z0-9_-]{1,64}$`, as providers require for a response schema name. */
function schemaName(workflow: LoadedWorkflow): string {
  return `${workflow.id}_v${workflow.version}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
