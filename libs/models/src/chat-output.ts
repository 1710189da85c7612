import { randomUUID } from 'node:crypto';
import { ModelError } from './model-error';
import type { ChatRequest, ChatResponse, FinishReason, ModelUsage, ToolCall } from './model-provider';
import { findTool, parseStructuredOutput, parseToolArguments, type OutputContext } from './structured-output';

export interface RawToolCall {
  readonly id?: string;
  readonly name: string;
  /** JSON text (OpenAI) or an already-parsed object (grammar-constrained local output). */
  readonly arguments: string | Readonly<Record<string, unknown>>;
}

export interface RawChatOutput {
  readonly text: string;
  readonly toolCalls: readonly RawToolCall[];
  readonly finishReason: FinishReason;
}

/**
 * Turns what a backend produced into the port's answer, enforcing the same contract for every
 * adapter: tool calls name offered tools and carry valid arguments, and structured output parses
 * and validates against the responseSchema. Violations are `malformed_output`.
 */
export interface FinishOptions {
  /** Brings parsed structured output back to the request schema's shape before validation. */
  readonly restore?: (value: unknown) => unknown;
}

export function finishChatOutput(
  raw: RawChatOutput,
  request: ChatRequest,
  context: OutputContext,
  options: FinishOptions = {},
): Omit<ChatResponse, 'usage'> {
  if (raw.toolCalls.length > 0) {
    const tools = request.tools ?? [];
    const lenient = request.validateToolCalls === false;
    const toolCalls: ToolCall[] = raw.toolCalls.map((call) => {
      const tool = lenient
        ? { name: call.name, description: '', parameters: {} }
        : findTool(tools, call.name, context);
      const id = call.id ?? `call_${randomUUID()}`;
      try {
        return { id, name: call.name, arguments: parseToolArguments(call.arguments, tool, context) };
      } catch (error) {
        // A caller that gates calls itself refuses this one and tells the model, which may retry.
        if (!lenient || !(error instanceof ModelError)) throw error;
        return { id, name: call.name, arguments: {}, argumentsError: error.message };
      }
    });
    return { text: raw.text, toolCalls, finishReason: 'tool_calls' };
  }
  if (request.responseSchema !== undefined) {
    if (raw.finishReason === 'length') {
      throw new ModelError(
        'malformed_output',
        `structured output for schema "${request.responseSchema.name}" was cut off at the token limit` +
          `${request.maxTokens === undefined ? '' : ` (maxTokens ${request.maxTokens})`}; raise maxTokens or bound string lengths in the schema`,
        context,
      );
    }
    const json = parseStructuredOutput(
      raw.text,
      request.responseSchema.schema,
      request.responseSchema.name,
      context,
      options.restore,
    );
    return { text: raw.text, json, toolCalls: [], finishReason: raw.finishReason };
  }
  return { text: raw.text, toolCalls: [], finishReason: raw.finishReason };
}

/**
 * `finishChatOutput` for an answer the provider has billed: a `malformed_output` failure carries
 * the call's usage (tokens, cost, latency) so the caller can record what was paid for.
 */
export function finishBilledChatOutput(
  raw: RawChatOutput,
  request: ChatRequest,
  context: OutputContext,
  usage: () => ModelUsage,
  options: FinishOptions = {},
): ChatResponse {
  try {
    return { ...finishChatOutput(raw, request, context, options), usage: usage() };
  } catch (error) {
    if (error instanceof ModelError && error.code === 'malformed_output' && error.usage === undefined)
      throw error.withUsage(usage());
    throw error;
  }
}
