import type OpenAI from 'openai';
import { ModelError } from '../model-error';
import type { ChatMessage, ResponseSchema, ToolChoice, ToolDefinition } from '../model-provider';
import { adaptSchemaForStrictMode, strictSchemaProblems } from '../strict-schema';

type MessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ToolParam = OpenAI.Chat.Completions.ChatCompletionTool;
type ToolChoiceParam = OpenAI.Chat.Completions.ChatCompletionToolChoiceOption;
type ResponseFormatParam = OpenAI.Chat.Completions.ChatCompletionCreateParams['response_format'];

/** Port messages in OpenAI chat-completions form. */
export function toOpenAIMessages(messages: readonly ChatMessage[]): MessageParam[] {
  return messages.map((message): MessageParam => {
    switch (message.role) {
      case 'system':
        return { role: 'system', content: message.content };
      case 'user':
        return { role: 'user', content: message.content };
      case 'assistant':
        return message.toolCalls !== undefined && message.toolCalls.length > 0
          ? {
              role: 'assistant',
              content: message.content === '' ? null : message.content,
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            }
          : { role: 'assistant', content: message.content };
      case 'tool':
        return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
    }
  });
}

/** Port tool definitions as OpenAI function tools. */
export function toOpenAITools(tools: readonly ToolDefinition[]): ToolParam[] {
  return tools.map((tool) => ({
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: { ...tool.parameters } },
  }));
}

/** Port tool choice as OpenAI `tool_choice`. */
export function toOpenAIToolChoice(choice: ToolChoice): ToolChoiceParam {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

/** Whether a responseSchema goes out in OpenAI strict mode (the port's default). */
export function isStrict(schema: ResponseSchema): boolean {
  return schema.strict ?? true;
}

/**
 * A responseSchema as OpenAI `response_format: json_schema`. In strict mode the schema is adapted
 * (see `adaptSchemaForStrictMode`); one strict mode cannot express fails as `bad_request` naming
 * each place to change, before any tokens are spent.
 */
export function toOpenAIResponseFormat(
  schema: ResponseSchema,
  context: { readonly provider: string; readonly modelId: string },
): ResponseFormatParam {
  const strict = isStrict(schema);
  if (strict) {
    const problems = strictSchemaProblems(schema.schema);
    if (problems.length > 0) {
      throw new ModelError(
        'bad_request',
        `responseSchema "${schema.name}" cannot be sent in strict mode: ` +
          problems.map((p) => `${p.path === '' ? '(root)' : p.path}: ${p.message}`).join('; ') +
          '; change the schema or set strict: false',
        { ...context, retryable: false },
      );
    }
  }
  return {
    type: 'json_schema',
    json_schema: {
      name: schema.name,
      description: schema.description,
      schema: strict ? { ...adaptSchemaForStrictMode(schema.schema) } : { ...schema.schema },
      strict,
    },
  };
}
