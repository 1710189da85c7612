// The local chat model is a base model with no chat template: the conversation is rendered as a
// plain transcript that ends with a cue for the assistant's turn, and grammars force the shape
// of structured replies and tool calls.
import type { ChatMessage, ChatRequest, JsonSchema, ToolDefinition } from '../model-provider';
import { offeredTools } from '../chat-request-checks';
import { fitGrammarToTokenBudget, toGrammarSchema, type GrammarLimits } from './grammar-schema';

/** Stops free-text generation when a base model starts writing the next turn itself. */
export const TURN_STOP_TRIGGERS: readonly string[] = ['\nUser:', '\nSystem:', '\nTool result'];

/** `text`: free text; `json`: the responseSchema; `tools`: a tool-choice envelope (see below). */
export type LocalChatMode = 'text' | 'json' | 'tools';

export interface LocalChatPlan {
  readonly mode: LocalChatMode;
  readonly prompt: string;
  readonly grammarSchema?: JsonSchema;
  readonly stop: readonly string[];
}

function compact(schema: JsonSchema): string {
  return JSON.stringify(schema);
}

function renderMessage(message: ChatMessage): string {
  switch (message.role) {
    case 'system':
      return message.content;
    case 'user':
      return `User: ${message.content}`;
    case 'assistant': {
      const calls = (message.toolCalls ?? []).map(
        (call) => `Assistant called ${call.name}(${JSON.stringify(call.arguments)})`,
      );
      return [message.content === '' ? undefined : `Assistant: ${message.content}`, ...calls]
        .filter((line): line is string => line !== undefined)
        .join('\n');
    }
    case 'tool':
      return `Tool result from ${message.name}: ${message.content}`;
  }
}

function renderTools(tools: readonly ToolDefinition[]): string {
  const lines = tools.map(
    (tool) => `- ${tool.name}: ${tool.description}\n  arguments: ${compact(tool.parameters)}`,
  );
  return `Tools you can call:\n${lines.join('\n')}`;
}

/**
 * The tool-choice envelope the grammar forces: `{"tool": <name>, "arguments": {...}}` for a call,
 * or, when the model may answer instead (toolChoice `auto`), `{"answer": <text or responseSchema object>}`.
 */
export function toolEnvelopeSchema(request: ChatRequest, limits: GrammarLimits): JsonSchema {
  const tools = offeredTools(request);
  const choice = request.toolChoice ?? 'auto';
  const callable = typeof choice === 'object' ? tools.filter((tool) => tool.name === choice.name) : tools;
  const calls: JsonSchema[] = callable.map((tool) => ({
    type: 'object',
    properties: {
      tool: { const: tool.name },
      arguments: toGrammarSchema(tool.parameters, limits, `parameters of tool "${tool.name}"`),
    },
  }));
  if (choice !== 'auto') return calls.length === 1 ? calls[0] : { oneOf: calls };
  const answer = request.responseSchema
    ? toGrammarSchema(
        request.responseSchema.schema,
        limits,
        `responseSchema "${request.responseSchema.name}"`,
      )
    : { type: 'string', maxLength: limits.maxStringLength };
  return { oneOf: [...calls, { type: 'object', properties: { answer } }] };
}

/** Renders a chat request into the prompt, grammar and stop triggers for the local base model. */
export function planLocalChat(request: ChatRequest, limits: GrammarLimits): LocalChatPlan {
  const tools = offeredTools(request);
  const mode: LocalChatMode =
    tools.length > 0 ? 'tools' : request.responseSchema !== undefined ? 'json' : 'text';
  const sections: string[] = [];
  const system = request.messages.filter((message) => message.role === 'system').map(renderMessage);
  if (system.length > 0) sections.push(system.join('\n\n'));
  if (mode === 'tools') sections.push(renderTools(tools));
  if (request.responseSchema !== undefined) {
    sections.push(`Reply format (JSON Schema): ${compact(request.responseSchema.schema)}`);
  }
  sections.push(...request.messages.filter((message) => message.role !== 'system').map(renderMessage));

  const stop = [...(request.stop ?? [])];
  let cue: string;
  let grammarSchema: JsonSchema | undefined;
  if (mode === 'tools') {
    const choice = request.toolChoice ?? 'auto';
    cue =
      choice === 'auto'
        ? 'Assistant (JSON: {"tool": name, "arguments": {...}} to call a tool, or {"answer": ...} to reply):'
        : 'Assistant (tool call as JSON {"tool": name, "arguments": {...}}):';
    grammarSchema = toolEnvelopeSchema(request, limits);
  } else if (mode === 'json' && request.responseSchema !== undefined) {
    cue = 'Assistant (JSON matching the reply format):';
    grammarSchema = toGrammarSchema(
      request.responseSchema.schema,
      limits,
      `responseSchema "${request.responseSchema.name}"`,
    );
  } else {
    cue = 'Assistant:';
    stop.push(...TURN_STOP_TRIGGERS);
  }
  sections.push(cue);
  // Within the token budget a grammar-constrained answer always ends as complete JSON.
  if (grammarSchema !== undefined && request.maxTokens !== undefined)
    grammarSchema = fitGrammarToTokenBudget(grammarSchema, request.maxTokens);
  return { mode, prompt: sections.join('\n\n'), grammarSchema, stop };
}
