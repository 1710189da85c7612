import { createHash } from 'node:crypto';
import { finishBilledChatOutput } from '../chat-output';
import { normalizeVector } from '../embedding-vectors';
import { ModelError } from '../model-error';
import type {
  ChatRequest,
  ChatResponse,
  EmbedOptions,
  EmbedResponse,
  FinishReason,
  ModelProvider,
  ModelUsage,
} from '../model-provider';

/** One scripted chat answer. `json` without `text` is sent as its JSON text. */
export interface ScriptedChatReply {
  readonly text?: string;
  readonly json?: unknown;
  readonly toolCalls?: readonly {
    readonly id?: string;
    readonly name: string;
    /** An object, or JSON text as an OpenAI-compatible endpoint sends it (possibly not valid JSON). */
    readonly arguments: string | Readonly<Record<string, unknown>>;
  }[];
  readonly finishReason?: FinishReason;
  readonly usage?: Partial<ModelUsage>;
  /** Streamed to `onDelta` in this order; defaults to the text split after spaces. */
  readonly deltas?: readonly string[];
}

/** A queued step: a reply, an error to throw (e.g. a retryable ModelError), or a function of the request. */
export type ScriptedChatStep =
  ScriptedChatReply | ModelError | ((request: ChatRequest) => ScriptedChatReply | Promise<ScriptedChatReply>);

export interface ScriptedModelProviderOptions {
  readonly modelId?: string;
  readonly embeddingModelId?: string;
  /** Length of the deterministic vectors `embed` returns when nothing is scripted. Default 384. */
  readonly embeddingDimension?: number;
}

export interface RecordedEmbedCall {
  readonly texts: readonly string[];
  readonly options: EmbedOptions;
}

/**
 * TEST DOUBLE of the ModelProvider port for other libs' and services' unit tests: answers chat
 * calls from a queue of scripted steps and records every call. It enforces the port's contract
 * (offered tools, valid arguments, JSON matching the responseSchema), so a fixture that a real
 * model could never produce fails loudly. Without a script, `embed` returns deterministic
 * bag-of-words vectors: texts sharing words are similar, which is enough for retrieval tests.
 */
export class ScriptedModelProvider implements ModelProvider {
  readonly name = 'scripted';
  readonly chatCalls: ChatRequest[] = [];
  readonly embedCalls: RecordedEmbedCall[] = [];
  private readonly chatSteps: ScriptedChatStep[] = [];
  private readonly embedSteps: (ModelError | number[][])[] = [];
  private readonly modelId: string;
  private readonly embeddingModelId: string;
  private readonly dimension: number;

  constructor(options: ScriptedModelProviderOptions = {}) {
    this.modelId = options.modelId ?? 'scripted/chat';
    this.embeddingModelId = options.embeddingModelId ?? 'scripted/embeddings';
    this.dimension = options.embeddingDimension ?? 384;
  }

  /** Queues chat steps, answered in order by the next chat calls. */
  enqueueChat(...steps: ScriptedChatStep[]): this {
    this.chatSteps.push(...steps);
    return this;
  }

  /** Queues embed results (vectors for the whole batch) or errors, used before the default vectors. */
  enqueueEmbed(...steps: (ModelError | number[][])[]): this {
    this.embedSteps.push(...steps);
    return this;
  }

  /** Chat steps not consumed yet; assert it is 0 at the end of a test. */
  get pendingChatSteps(): number {
    return this.chatSteps.length;
  }

  /** The most recent chat request, or undefined before the first call. */
  get lastChatRequest(): ChatRequest | undefined {
    return this.chatCalls.at(-1);
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.chatCalls.push(request);
    this.throwIfAborted(request.signal, request.model ?? this.modelId);
    const step = this.chatSteps.shift();
    if (step === undefined) {
      throw new Error(
        `ScriptedModelProvider: no scripted chat step left for call #${this.chatCalls.length}; enqueue one with enqueueChat()`,
      );
    }
    if (step instanceof ModelError) throw step;
    const reply = typeof step === 'function' ? await step(request) : step;
    const modelId = request.model ?? this.modelId;
    const text = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
    if (request.onDelta !== undefined) {
      for (const delta of reply.deltas ?? text.split(/(?<= )/))
        if (delta !== '') request.onDelta({ text: delta });
    }
    const promptTokens = request.messages.reduce((sum, message) => sum + wordCount(message.content), 0);
    return finishBilledChatOutput(
      { text, toolCalls: reply.toolCalls ?? [], finishReason: reply.finishReason ?? 'stop' },
      request,
      { provider: this.name, modelId },
      () => ({
        modelId,
        provider: this.name,
        promptTokens,
        completionTokens: wordCount(text),
        costUsd: 0,
        latencyMs: 0,
        ...reply.usage,
      }),
    );
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbedResponse> {
    this.embedCalls.push({ texts: [...texts], options });
    const modelId = options.model ?? this.embeddingModelId;
    this.throwIfAborted(options.signal, modelId);
    const step = this.embedSteps.shift();
    if (step instanceof ModelError) throw step;
    const vectors = step ?? texts.map((text) => bagOfWordsVector(text, this.dimension));
    return {
      vectors,
      dimension: vectors[0]?.length ?? this.dimension,
      usage: {
        modelId,
        provider: this.name,
        promptTokens: texts.reduce((sum, text) => sum + wordCount(text), 0),
        completionTokens: 0,
        costUsd: 0,
        latencyMs: 0,
      },
    };
  }

  async close(): Promise<void> {}

  private throwIfAborted(signal: AbortSignal | undefined, modelId: string): void {
    if (signal?.aborted)
      throw new ModelError('aborted', 'the caller aborted the call', { provider: this.name, modelId });
  }
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter((word) => word !== '').length;
}

function bagOfWordsVector(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const digest = createHash('sha256').update(word).digest();
    vector[digest.readUInt32BE(0) % dimension] += digest[4] % 2 === 0 ? 1 : -1;
  }
  return normalizeVector(vector);
}
