// The provider port: everything a stage needs from a language or embedding model, and nothing
// about how a particular backend (OpenAI-compatible HTTP, in-process llama.cpp) provides it.
import type { ModelUsage as ContractModelUsage } from '@llmbus/contracts';

/** A JSON Schema (draft 2020-12 subset) as a plain object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface ToolCall {
  /** Provider-assigned id; echo it back as `toolCallId` in the tool result message. */
  readonly id: string;
  readonly name: string;
  /** Parsed arguments, already validated against the tool's `parameters` schema. */
  readonly arguments: Readonly<Record<string, unknown>>;
  /**
   * Only with `validateToolCalls: false`: why the arguments the model wrote could not be parsed
   * (not JSON, or not a JSON object); `arguments` is then `{}` and the caller refuses the call.
   */
  readonly argumentsError?: string;
}

export type ChatMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string; readonly toolCalls?: readonly ToolCall[] }
  | { readonly role: 'tool'; readonly toolCallId: string; readonly name: string; readonly content: string };

export interface ToolDefinition {
  /** `^[a-zA-Z0-9_-]{1,64}$`, as OpenAI requires. */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object (`type: "object"`). */
  readonly parameters: JsonSchema;
}

/** `auto`: the model may answer or call a tool; `required`: it must call one; `{name}`: it must call that one. */
export type ToolChoice = 'auto' | 'required' | 'none' | { readonly name: string };

export interface ResponseSchema {
  /** `^[a-zA-Z0-9_-]{1,64}$`; names the schema for the provider. */
  readonly name: string;
  readonly schema: JsonSchema;
  readonly description?: string;
  /** OpenAI strict structured outputs (all properties required, additionalProperties false). Default true. */
  readonly strict?: boolean;
}

export interface ChatDelta {
  /** Text generated since the previous delta (raw JSON text when a responseSchema is set). */
  readonly text: string;
}

export interface ChatRequest {
  /** Registry id of the model; the provider's default chat model when omitted. */
  readonly model?: string;
  /** The tenant the call is made for: per-tenant rate limits apply to it (never sent to the model). */
  readonly tenant?: string;
  readonly messages: readonly ChatMessage[];
  readonly temperature?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
  readonly maxTokens?: number;
  readonly seed?: number;
  readonly tools?: readonly ToolDefinition[];
  readonly toolChoice?: ToolChoice;
  /**
   * `false`: tool calls come back as the model made them, a name that was not offered or arguments
   * that fail the tool's schema included (still a JSON object), for a caller that gates every call
   * itself and tells the model why one was refused. Default `true`: such calls are `malformed_output`.
   */
  readonly validateToolCalls?: boolean;
  /** Structured output: the reply is JSON that validates against this schema, parsed into `json`. */
  readonly responseSchema?: ResponseSchema;
  /** Streaming: called for every chunk of text as it is generated. See also `streamChat`. */
  readonly onDelta?: (delta: ChatDelta) => void;
  /** Aborting rejects with ModelError `aborted` (or `timeout` when the signal's reason is a TimeoutError). */
  readonly signal?: AbortSignal;
  /** Deadline for the whole call, queueing and retries included; the provider's default when omitted. */
  readonly timeoutMs?: number;
}

/** Content filtering is never a finish reason: it throws ModelError `content_filtered`. */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

/**
 * What one model call cost; every provider fills every field (local models cost 0). The shape is
 * owned by @llmbus/contracts (it travels in events): modelId is the registry id, provider is
 * `local`, `openai` or `scripted`, costUsd in US dollars, latencyMs is the call's wall time as the
 * caller saw it (queueing and retries included).
 */
export type ModelUsage = ContractModelUsage;

export interface ChatResponse {
  readonly text: string;
  /** Set when the request had a responseSchema: the parsed reply, validated against that schema. */
  readonly json?: unknown;
  readonly toolCalls: readonly ToolCall[];
  readonly finishReason: FinishReason;
  readonly usage: ModelUsage;
}

export interface EmbedOptions {
  /** Registry id of the embedding model; the provider's default embedding model when omitted. */
  readonly model?: string;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface EmbedResponse {
  /** One L2-normalised vector per input text, in input order. */
  readonly vectors: number[][];
  readonly dimension: number;
  readonly usage: ModelUsage;
}

/** Counts the tokens a model's tokenizer makes of a text (the workflows lib's TokenCounter shape). */
export interface ModelTokenCounter {
  count(text: string): number;
}

/** The port every model backend implements. Errors are always `ModelError`. */
export interface ModelProvider {
  /** `local`, `openai` or `scripted`. */
  readonly name: string;
  chat(request: ChatRequest): Promise<ChatResponse>;
  embed(texts: readonly string[], options?: EmbedOptions): Promise<EmbedResponse>;
  /**
   * The tokenizer of a chat model (registry id; the default chat model when omitted), for prompt
   * budgets: exact where the provider knows it, undefined where it does not (callers fall back to
   * `conservativeTokenCounter`). Never rejects for a model it serves.
   */
  tokenCounter?(model?: string): Promise<ModelTokenCounter | undefined>;
  /** Releases models, workers and connections; further calls fail with `unavailable`. */
  close(): Promise<void>;
}
