import { CallScope } from '../call-scope';
import { finishBilledChatOutput, type RawChatOutput } from '../chat-output';
import { assertChatRequestSchemas, requiredChatCapabilities } from '../chat-request-checks';
import { normalizeVector } from '../embedding-vectors';
import { ModelError } from '../model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  ModelProvider,
  ModelTokenCounter,
} from '../model-provider';
import type { ModelsLogger } from '../models-logger';
import type { ModelEntry, ModelRegistry } from '../registry/model-registry';
import { resolveModelEntry } from '../registry/resolve-model';
import { DEFAULT_GRAMMAR_LIMITS, dropRepeatedItems, type GrammarLimits } from './grammar-schema';
import { EngineFailure, type LocalInferenceEngine, type ModelLoadInfo } from './local-inference-engine';
import { LlamaWorkerEngine } from './llama-worker-engine';
import { acquireLocalRuntime, createLocalRuntime, type LocalRuntime } from './local-runtime';
import { LocalTokenizer } from './local-tokenizer';
import { planLocalChat, type LocalChatPlan } from './plain-prompt';
import type { ModelRole } from './worker-protocol';

const PROVIDER = 'local';

/** One tokenizer per GGUF file and process, shared by every provider (loading takes seconds). */
const tokenizers = new Map<string, Promise<LocalTokenizer>>();

export interface LocalModelBinding {
  readonly entry: ModelEntry;
  /** Absolute path of the GGUF file. */
  readonly path: string;
  /** Names the variable that overrides `path`, for error messages. */
  readonly pathVariable: string;
}

export interface LocalModelProviderOptions {
  readonly registry: ModelRegistry;
  readonly chat?: LocalModelBinding;
  readonly embedding?: LocalModelBinding;
  /** CPU threads per context; keep at or below the machine's cores. */
  readonly threads: number;
  /** Requests allowed to wait per model while one runs. */
  readonly queueLimit: number;
  readonly timeoutMs: number;
  /** Completion tokens when a request sets no maxTokens. Default 512. */
  readonly defaultMaxTokens?: number;
  readonly grammarLimits?: GrammarLimits;
  readonly logger?: ModelsLogger;
  /** Inference runtime; a node-llama-cpp worker_thread by default. Unit tests pass a fake. */
  readonly engine?: LocalInferenceEngine;
}

export interface LocalWarmUp {
  readonly chatLoadMs?: number;
  readonly embeddingLoadMs?: number;
}

/**
 * The local adapter: GGUF models in-process on CPU through node-llama-cpp. One loaded model per
 * role, shared by all requests and by every provider built from the same config in this process;
 * each context runs one request at a time behind a bounded queue (a full queue rejects with
 * retryable `rate_limited`). Cost is always 0.
 */
export class LocalModelProvider implements ModelProvider {
  readonly name = PROVIDER;
  private readonly runtime: LocalRuntime;
  private readonly release: () => Promise<void>;
  private closed = false;

  constructor(private readonly options: LocalModelProviderOptions) {
    if (options.engine !== undefined) {
      this.runtime = createLocalRuntime(options.engine, options.threads, options.queueLimit);
      this.release = () => this.runtime.engine.close();
    } else {
      const key = JSON.stringify([
        options.threads,
        options.queueLimit,
        options.chat?.path,
        options.chat?.entry.contextWindow,
        options.embedding?.path,
        options.embedding?.entry.contextWindow,
      ]);
      const acquired = acquireLocalRuntime(key, () =>
        createLocalRuntime(
          new LlamaWorkerEngine({ maxThreads: options.threads, logger: options.logger }),
          options.threads,
          options.queueLimit,
        ),
      );
      this.runtime = acquired.runtime;
      this.release = acquired.release;
    }
  }

  /** Loads the configured models now instead of on the first request; returns load times. */
  async warmUp(): Promise<LocalWarmUp> {
    const chat = this.options.chat === undefined ? undefined : await this.load('chat', this.options.chat);
    const embedding =
      this.options.embedding === undefined ? undefined : await this.load('embedding', this.options.embedding);
    return { chatLoadMs: chat?.loadMs, embeddingLoadMs: embedding?.loadMs };
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.assertOpen();
    const binding = this.binding('chat', request.model, requiredChatCapabilities(request));
    const context = { provider: PROVIDER, modelId: binding.entry.id };
    assertChatRequestSchemas(request, context);
    const limits = this.options.grammarLimits ?? DEFAULT_GRAMMAR_LIMITS;
    const maxTokens = request.maxTokens ?? this.options.defaultMaxTokens ?? 512;
    const plan = planLocalChat({ ...request, maxTokens }, limits);
    const scope = this.scope(binding.entry, request.timeoutMs, request.signal);
    try {
      const result = await this.runtime.queues.chat.run(async () => {
        await this.load('chat', binding);
        return this.runtime.engine.complete(
          {
            prompt: plan.prompt,
            grammarSchema: plan.grammarSchema,
            maxTokens,
            temperature: request.temperature,
            topP: request.topP,
            seed: request.seed,
            stop: plan.stop,
            stream: request.onDelta !== undefined,
          },
          (text) => {
            if (!scope.signal.aborted) request.onDelta?.({ text });
          },
          scope.signal,
        );
      }, scope.signal);
      scope.throwIfAborted();
      const usage = () => scope.usage(binding.entry, result.promptTokens, result.completionTokens);
      try {
        const raw = interpretCompletion(plan, result.text, result.stop === 'length', context);
        // The grammar cannot say "unique"; a repeated item (the same citation twice) is dropped.
        return finishBilledChatOutput(raw, request, context, usage, {
          restore: (value) => dropRepeatedItems(value, request.responseSchema?.schema),
        });
      } catch (error) {
        if (error instanceof ModelError && error.code === 'malformed_output' && error.usage === undefined)
          throw error.withUsage(usage());
        throw error;
      }
    } catch (error) {
      throw this.toModelError(error, binding, scope);
    } finally {
      scope.dispose();
    }
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedResponse> {
    this.assertOpen();
    const binding = this.binding('embedding', options.model, ['embeddings']);
    const scope = this.scope(binding.entry, options.timeoutMs, options.signal);
    try {
      if (texts.length === 0) {
        return {
          vectors: [],
          dimension: binding.entry.embeddingDimension ?? 0,
          usage: scope.usage(binding.entry, 0, 0),
        };
      }
      const result = await this.runtime.queues.embedding.run(async () => {
        await this.load('embedding', binding);
        return this.runtime.engine.embed(texts, scope.signal);
      }, scope.signal);
      scope.throwIfAborted();
      const vectors = result.vectors.map((vector) => normalizeVector(vector));
      const dimension = vectors[0]?.length ?? 0;
      if (binding.entry.embeddingDimension !== undefined && dimension !== binding.entry.embeddingDimension) {
        throw new ModelError(
          'bad_request',
          `${binding.path} produces ${dimension}-dimensional vectors but the registry declares ${binding.entry.embeddingDimension} for ${binding.entry.id}; fix the registry or ${binding.pathVariable}`,
          { provider: PROVIDER, modelId: binding.entry.id },
        );
      }
      const promptTokens = result.tokenCounts.reduce((sum, count) => sum + count, 0);
      return { vectors, dimension, usage: scope.usage(binding.entry, promptTokens, 0) };
    } catch (error) {
      throw this.toModelError(error, binding, scope);
    } finally {
      scope.dispose();
    }
  }

  /**
   * The chat model's own tokenizer (its GGUF vocabulary, loaded once per file and process), or
   * undefined, logged, when it cannot be loaded: the caller then counts conservatively.
   */
  async tokenCounter(model?: string): Promise<ModelTokenCounter | undefined> {
    let path: string;
    try {
      path = this.binding('chat', model, ['chat']).path;
    } catch {
      return undefined;
    }
    let tokenizer = tokenizers.get(path);
    if (tokenizer === undefined) {
      tokenizer = LocalTokenizer.open(path);
      tokenizers.set(path, tokenizer);
    }
    try {
      return await tokenizer;
    } catch (error) {
      tokenizers.delete(path);
      this.options.logger?.warn(
        { err: error, path },
        'the local model tokenizer could not be loaded; prompts are counted conservatively',
      );
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  private load(role: ModelRole, binding: LocalModelBinding): Promise<ModelLoadInfo> {
    return this.runtime.engine.load(role, {
      path: binding.path,
      contextSize: binding.entry.contextWindow,
      threads: this.options.threads,
    });
  }

  private binding(
    role: ModelRole,
    requested: string | undefined,
    capabilities: Parameters<typeof resolveModelEntry>[4],
  ): LocalModelBinding {
    const configured = this.options[role];
    const entry = resolveModelEntry(
      this.options.registry,
      requested,
      configured?.entry,
      PROVIDER,
      capabilities,
    );
    if (configured === undefined || configured.entry.id !== entry.id) {
      throw new ModelError(
        'bad_request',
        `the local provider serves ${configured?.entry.id ?? 'no model'} for ${role}, not "${entry.id}"; ` +
          'configure that model or route the request to a provider that serves it',
        { provider: PROVIDER, modelId: entry.id },
      );
    }
    return configured;
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
      timeoutHint: 'LLMBUS_LOCAL_TIMEOUT_MS',
    });
  }

  private toModelError(error: unknown, binding: LocalModelBinding, scope: CallScope): ModelError {
    if (
      scope.signal.aborted &&
      !(error instanceof ModelError && error.code !== 'aborted' && error.code !== 'timeout')
    ) {
      return scope.abortReason();
    }
    if (error instanceof ModelError) return error;
    const options = { provider: PROVIDER, modelId: binding.entry.id, cause: error };
    if (error instanceof EngineFailure) {
      if (error.code === 'bad_request') return new ModelError('bad_request', error.message, options);
      if (error.code === 'aborted') return new ModelError('aborted', error.message, options);
      if (/does not exist|cannot load/.test(error.message)) {
        return new ModelError(
          'unavailable',
          `${error.message}; run \`npm run models:pull\` or set ${binding.pathVariable} to the GGUF file`,
          { ...options, retryable: false },
        );
      }
      return new ModelError(
        'unavailable',
        `local model ${binding.entry.id} failed: ${error.message}`,
        options,
      );
    }
    return new ModelError('unavailable', `local model ${binding.entry.id} failed: ${String(error)}`, {
      ...options,
      retryable: false,
    });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new ModelError('unavailable', 'the local provider was closed; create a new one', {
        provider: PROVIDER,
        retryable: false,
      });
    }
  }
}

/** Reads the grammar-shaped output back into text, JSON or a tool call. */
export function interpretCompletion(
  plan: LocalChatPlan,
  text: string,
  hitTokenLimit: boolean,
  context: { readonly provider: string; readonly modelId: string },
): RawChatOutput {
  const finishReason = hitTokenLimit ? 'length' : 'stop';
  if (plan.mode === 'text') return { text: text.trim(), toolCalls: [], finishReason };
  if (plan.mode === 'json') return { text: text.trim(), toolCalls: [], finishReason };
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch (error) {
    throw new ModelError(
      'malformed_output',
      hitTokenLimit
        ? 'the tool-choice JSON was cut off at the token limit; raise maxTokens or bound string lengths in the tool schemas'
        : `the tool-choice JSON does not parse: ${(error as Error).message}`,
      { ...context, cause: error },
    );
  }
  if (
    typeof envelope === 'object' &&
    envelope !== null &&
    'tool' in envelope &&
    typeof envelope.tool === 'string'
  ) {
    const args =
      'arguments' in envelope && typeof envelope.arguments === 'object' && envelope.arguments !== null
        ? envelope.arguments
        : {};
    return {
      text: '',
      toolCalls: [{ name: envelope.tool, arguments: args as Record<string, unknown> }],
      finishReason,
    };
  }
  if (typeof envelope === 'object' && envelope !== null && 'answer' in envelope) {
    const answer = envelope.answer;
    return {
      text: typeof answer === 'string' ? answer : JSON.stringify(answer),
      toolCalls: [],
      finishReason,
    };
  }
  throw new ModelError('malformed_output', 'the tool-choice JSON has neither "tool" nor "answer"', context);
}
