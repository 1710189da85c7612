import { randomUUID } from 'node:crypto';
import { EventRejectedError, Heartbeat } from '@llmbus/bus';
import {
  toStorableText,
  toStorableValue,
  truncateText,
  type Passage,
  type RequestContext,
  type ResponseGenerated,
} from '@llmbus/contracts';
import { conservativeTokenCounter, ModelError, type ChatResponse, type ModelProvider } from '@llmbus/models';
import type { Logger } from '@llmbus/observability';
import { PiiProtection, PiiVaultError, resolvePiiPolicy } from '@llmbus/pii';
import {
  groundedOutputSchema,
  PromptRenderer,
  PromptTooLargeError,
  RenderedPrompt,
  RetryGuidance,
  TokenCounter,
  WorkflowError,
  WorkflowRegistry,
  type LoadedWorkflow,
} from '@llmbus/workflows';
import type { ChatModelChoice } from './generator-deps';

/** The request state a generation starts from (ContextRetrieved or RegenerationRequested). */
export interface GenerationInput {
  readonly requestId: string;
  readonly context: RequestContext;
  readonly input: Record<string, unknown>;
  readonly passages: Passage[];
  /** The request's tenant (from the envelope): selects the tenant's overrides of the PII policy. */
  readonly tenantId?: string;
}

const HEARTBEAT_EVERY_MS = 5000;
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
    private readonly selectModel: (tier: RequestContext['modelTier']) => ChatModelChoice,
    private readonly tokenCounter: TokenCounter | undefined,
    private readonly timeoutMs: number,
    /** Masks prompts for models not trusted with PII; without it prompts go out as rendered. */
    private readonly pii?: PiiProtection,
  ) {}

  /** Generates attempt `attempt` for a request; `retry` carries the stricter instruction of a regeneration. */
  async generate(
    source: GenerationInput,
    attempt: number,
    heartbeat: Heartbeat,
    log: Logger,
    retry?: RetryGuidance,
  ): Promise<ResponseGenerated> {
    const workflow = this.workflowOf(source.context);
    const model = this.selectModel(source.context.modelTier);
    const rendered = this.render(workflow, source, model, await this.counterFor(model), retry);
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
    const sent = this.minimise(workflow, source, model, rendered);
    const response = await this.callModel(workflow, source.context, model, schema, sent.prompt, heartbeat);
    if (response.usage.costUsd > source.context.budget.maxCostUsd) {
      log.warn(
        { costUsd: response.usage.costUsd, maxCostUsd: source.context.budget.maxCostUsd },
        'model call exceeded the cost budget',
      );
    }
    return {
      requestId: source.requestId,
      context: source.context,
      input: source.input,
      passages: source.passages,
      attempt,
      prompt: rendered.promptRef,
      renderedPrompt: truncateText(sent.prompt.text, MAX_TEXT),
      // Model output enters the platform here: normalised so no consumer refuses it (U+0000, lone surrogates).
      text: toStorableText(truncateText(response.text, MAX_TEXT)),
      output: isRecord(response.json) ? toStorableValue(response.json) : undefined,
      usage: { ...response.usage },
      callId,
      piiVault: sent.piiVault,
    };
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
  ): { prompt: RenderedPrompt; piiVault?: ResponseGenerated['piiVault'] } {
    if (this.pii === undefined || model.trustedForPii === true) return { prompt: rendered };
    const policy = resolvePiiPolicy(workflow.pii, source.tenantId).prompts;
    const { messages, vault } = this.pii.maskMessages([rendered.system, rendered.user], policy);
    const [system = '', user = ''] = messages;
    const text = JSON.stringify([
      { role: 'system', content: system },
      { role: 'user', content: user },
    ]);
    const prompt = { ...rendered, system, user, text };
    if (vault.size === 0) return { prompt };
    try {
      return { prompt, piiVault: this.pii.seal(vault, source.requestId) };
    } catch (error) {
      if (error instanceof PiiVaultError) throw new EventRejectedError('processing_error', error.message);
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

  private workflowOf(context: RequestContext): LoadedWorkflow {
    try {
      return this.workflows.get(context.workflow.id, context.workflow.version);
    } catch (error) {
      if (error instanceof WorkflowError)
        throw new EventRejectedError(error.code, error.message, error.details);
      throw error;
    }
  }

  private async callModel(
    workflow: LoadedWorkflow,
    context: RequestContext,
    model: ChatModelChoice,
    schema: Record<string, unknown>,
    prompt: RenderedPrompt,
    heartbeat: Heartbeat,
  ): Promise<ChatResponse> {
    // Keeps the consumer's group membership alive while the model works (the bus heartbeats too).
    const timer = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    const started = Date.now();
    try {
      return await this.models.chat({
        model: model.modelId,
        messages: [
          { role: 'system', content: prompt.system },
          { role: 'user', content: prompt.user },
        ],
        responseSchema: { name: schemaName(workflow), schema },
        maxTokens: context.budget.maxOutputTokens,
        timeoutMs: this.timeoutMs,
      });
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
        throw new EventRejectedError(
          'model_error',
          `the model call failed (${error.code}): ${error.message}`,
          [`model: ${error.modelId ?? model.modelId ?? 'default'}`],
        );
      }
      throw error;
    } finally {
      clearInterval(timer);
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
