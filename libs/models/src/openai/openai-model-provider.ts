import OpenAI from 'openai';
import { CallScope } from '../call-scope';
import { finishBilledChatOutput, type RawToolCall } from '../chat-output';
import { estimateTokens, normalizeVector } from '../embedding-vectors';
import { ModelError } from '../model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  FinishReason,
  ModelProvider,
  ModelTokenCounter,
} from '../model-provider';
import type { ModelEntry, ModelRegistry } from '../registry/model-registry';
import { resolveModelEntry } from '../registry/resolve-model';
import { assertChatRequestSchemas, offeredTools, requiredChatCapabilities } from '../chat-request-checks';
import { mapOpenAIError } from './openai-error-mapping';
import { stripAdaptedNulls } from '../strict-schema';
import { openAITokenCounter } from '../tokens/openai-token-counter';
import {
  isStrict,
  toOpenAIMessages,
  toOpenAIResponseFormat,
  toOpenAITools,
  toOpenAIToolChoice,
} from './openai-messages';

export interface OpenAIModelProviderOptions {
  readonly apiKey: string;
  /** Any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM); OpenAI's when unset. */
  readonly baseURL?: string;
  readonly registry: ModelRegistry;
  /** Used when a chat request names no model. */
  readonly defaultChatModel?: ModelEntry;
  /** Used when an embed call names no model. */
  readonly defaultEmbeddingModel?: ModelEntry;
  /** Deadline per call, retries included. */
  readonly timeoutMs: number;
  /** Retries of 408/409/429/5xx and connection errors, with the SDK's backoff (honours Retry-After). */
  readonly maxRetries: number;
  /**
   * `max_tokens` is what most compatible servers understand; OpenAI's reasoning models need
   * `max_completion_tokens`. Default `max_tokens`.
   */
  readonly maxTokensParameter?: 'max_tokens' | 'max_completion_tokens';
  /** Inputs per embeddings request. Default 256. */
  readonly embeddingBatchSize?: number;
}

const PROVIDER = 'openai';

type Completion = OpenAI.Chat.Completions.ChatCompletion;
type CompletionCreateParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;

function finishReasonOf(reason: string | null | undefined, model: string, modelId: string): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      throw new ModelError('content_filtered', `the provider's content filter stopped ${model}'s answer`, {
        provider: PROVIDER,
        modelId,
      });
    case null:
    case undefined:
    default:
      return 'stop';
  }
}

/** The production adapter: the `openai` package against any OpenAI-compatible endpoint. */
export class OpenAIModelProvider implements ModelProvider {
  readonly name = PROVIDER;
  private readonly client: OpenAI;
  private closed = false;

  constructor(private readonly options: OpenAIModelProviderOptions) {
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs,
      maxRetries: options.maxRetries,
    });
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.assertOpen();
    const entry = resolveModelEntry(
      this.options.registry,
      request.model,
      this.options.defaultChatModel,
      PROVIDER,
      requiredChatCapabilities(request),
    );
    const context = { provider: PROVIDER, modelId: entry.id };
    assertChatRequestSchemas(request, context);

    const scope = this.scope(entry, request.timeoutMs, request.signal);
    try {
      const body = this.chatBody(entry, request);
      const raw =
        request.onDelta === undefined
          ? await this.complete(body, scope, entry)
          : await this.stream(body, request, scope, entry);
      const schema = request.responseSchema;
      return finishBilledChatOutput(
        raw,
        request,
        context,
        () => scope.usage(entry, raw.promptTokens, raw.completionTokens),
        // A strict request asked for nulls where the schema has optional properties.
        schema !== undefined && isStrict(schema)
          ? { restore: (value) => stripAdaptedNulls(value, schema.schema) }
          : {},
      );
    } catch (error) {
      throw this.mapError(error, entry, scope);
    } finally {
      scope.dispose();
    }
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedResponse> {
    this.assertOpen();
    const entry = resolveModelEntry(
      this.options.registry,
      options.model,
      this.options.defaultEmbeddingModel,
      PROVIDER,
      ['embeddings'],
    );
    const scope = this.scope(entry, options.timeoutMs, options.signal);
    try {
      const vectors: number[][] = [];
      let promptTokens = 0;
      const batchSize = this.options.embeddingBatchSize ?? 256;
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const response = await this.client.embeddings.create(
          { model: entry.model, input: [...batch], encoding_format: 'float' },
          { signal: scope.signal },
        );
        const ordered = [...response.data].sort((a, b) => a.index - b.index);
        if (ordered.length !== batch.length) {
          throw new ModelError(
            'malformed_output',
            `${entry.model} returned ${ordered.length} embeddings for ${batch.length} inputs`,
            {
              provider: PROVIDER,
              modelId: entry.id,
            },
          );
        }
        for (const item of ordered) vectors.push(normalizeVector(item.embedding));
        promptTokens +=
          response.usage?.prompt_tokens ?? batch.reduce((sum, text) => sum + estimateTokens(text), 0);
      }
      const dimension = vectors[0]?.length ?? entry.embeddingDimension ?? 0;
      if (
        entry.embeddingDimension !== undefined &&
        vectors.length > 0 &&
        dimension !== entry.embeddingDimension
      ) {
        throw new ModelError(
          'bad_request',
          `${entry.model} returned ${dimension}-dimensional vectors but the registry declares ${entry.embeddingDimension} for ${entry.id}; fix embeddingDimension`,
          { provider: PROVIDER, modelId: entry.id, retryable: false },
        );
      }
      return { vectors, dimension, usage: scope.usage(entry, promptTokens, 0) };
    } catch (error) {
      throw this.mapError(error, entry, scope);
    } finally {
      scope.dispose();
    }
  }

  /** gpt-tokenizer for OpenAI models (the registry's `tokenizer`, else by model name); undefined for others. */
  async tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    try {
      return openAITokenCounter(
        resolveModelEntry(this.options.registry, model, this.options.defaultChatModel, PROVIDER, ['chat']),
      );
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private chatBody(entry: ModelEntry, request: ChatRequest): CompletionCreateParams {
    const tools = offeredTools(request);
    const body: CompletionCreateParams = {
      model: entry.model,
      messages: toOpenAIMessages(request.messages),
      temperature: request.temperature,
      top_p: request.topP,
      stop: request.stop === undefined ? undefined : [...request.stop],
      seed: request.seed,
    };
    if (request.maxTokens !== undefined) {
      if ((this.options.maxTokensParameter ?? 'max_tokens') === 'max_tokens')
        body.max_tokens = request.maxTokens;
      else body.max_completion_tokens = request.maxTokens;
    }
    if (tools.length > 0) {
      body.tools = toOpenAITools(tools);
      if (request.toolChoice !== undefined) body.tool_choice = toOpenAIToolChoice(request.toolChoice);
    }
    if (request.responseSchema !== undefined)
      body.response_format = toOpenAIResponseFormat(request.responseSchema, {
        provider: PROVIDER,
        modelId: entry.id,
      });
    return body;
  }

  private async complete(body: CompletionCreateParams, scope: CallScope, entry: ModelEntry) {
    const completion: Completion = await this.client.chat.completions.create(body, { signal: scope.signal });
    const choice = completion.choices[0];
    if (choice === undefined) {
      throw new ModelError('malformed_output', `${entry.model} returned no choices`, {
        provider: PROVIDER,
        modelId: entry.id,
      });
    }
    const message = choice.message;
    if (typeof message.refusal === 'string' && message.refusal !== '') {
      throw new ModelError('content_filtered', `${entry.model} refused: ${message.refusal}`, {
        provider: PROVIDER,
        modelId: entry.id,
      });
    }
    const text = message.content ?? '';
    const toolCalls: RawToolCall[] = (message.tool_calls ?? []).flatMap((call) =>
      call.type === 'function'
        ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
        : [],
    );
    return {
      text,
      toolCalls,
      finishReason: finishReasonOf(choice.finish_reason, entry.model, entry.id),
      promptTokens: completion.usage?.prompt_tokens ?? estimateTokens(JSON.stringify(body.messages)),
      completionTokens: completion.usage?.completion_tokens ?? estimateTokens(text),
    };
  }

  private async stream(
    body: CompletionCreateParams,
    request: ChatRequest,
    scope: CallScope,
    entry: ModelEntry,
  ) {
    const stream = await this.client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { signal: scope.signal },
    );
    let text = '';
    let finish: string | null = null;
    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    const calls = new Map<number, { id?: string; name: string; arguments: string }>();
    for await (const chunk of stream) {
      if (chunk.usage) {
        promptTokens = chunk.usage.prompt_tokens;
        completionTokens = chunk.usage.completion_tokens;
      }
      const choice = chunk.choices[0];
      if (choice === undefined) continue;
      const delta = choice.delta;
      if (typeof delta.content === 'string' && delta.content !== '') {
        text += delta.content;
        request.onDelta?.({ text: delta.content });
      }
      for (const part of delta.tool_calls ?? []) {
        const call = calls.get(part.index) ?? { name: '', arguments: '' };
        if (part.id) call.id = part.id;
        if (part.function?.name) call.name += part.function.name;
        if (part.function?.arguments) call.arguments += part.function.arguments;
        calls.set(part.index, call);
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    return {
      text,
      toolCalls: [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call),
      finishReason: finishReasonOf(finish, entry.model, entry.id),
      // Servers that ignore include_usage get an estimate rather than a cost of zero.
      promptTokens: promptTokens ?? estimateTokens(JSON.stringify(body.messages)),
      completionTokens:
        completionTokens ?? estimateTokens(text + [...calls.values()].map((c) => c.arguments).join('')),
    };
  }

  private scope(
    entry: ModelEntry,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): CallScope {
    return new CallScope({
      provider: PROVIDER,
      modelId: entry.id,
      timeoutMs: timeoutMs ?? this.options.timeoutMs,
      signal,
      timeoutHint: 'OPENAI_TIMEOUT_MS',
    });
  }

  private mapError(error: unknown, entry: ModelEntry, scope: CallScope): ModelError {
    if (scope.signal.aborted && !(error instanceof ModelError && error.code !== 'aborted'))
      return scope.abortReason();
    return mapOpenAIError(error, {
      modelId: entry.id,
      model: entry.model,
      baseURL: this.client.baseURL,
      abortReason: () => (scope.signal.aborted ? scope.abortReason() : undefined),
    });
  }

  private assertOpen(): void {
    if (this.closed)
      throw new ModelError('unavailable', 'the openai provider was closed; create a new one', {
        provider: PROVIDER,
        retryable: false,
      });
  }
}
