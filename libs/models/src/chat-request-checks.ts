import { ModelError } from './model-error';
import type { ChatRequest } from './model-provider';
import type { ModelCapability } from './registry/model-registry';
import { assertValidSchema, type OutputContext } from './structured-output';

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The tools a request actually offers (none when toolChoice is `none`). */
export function offeredTools(request: ChatRequest): NonNullable<ChatRequest['tools']> {
  return request.toolChoice === 'none' ? [] : (request.tools ?? []);
}

/** Registry capabilities a model needs to serve this request. */
export function requiredChatCapabilities(request: ChatRequest): ModelCapability[] {
  const capabilities: ModelCapability[] = ['chat'];
  if (request.responseSchema !== undefined) capabilities.push('json');
  if (offeredTools(request).length > 0) capabilities.push('tools');
  return capabilities;
}

/**
 * Rejects, before any tokens are spent, requests no model could answer correctly: bad tool or
 * schema names, schemas that do not compile, a forced tool that is not offered, no messages.
 */
export function assertChatRequestSchemas(request: ChatRequest, context: OutputContext): void {
  const fail = (message: string): never => {
    throw new ModelError('bad_request', message, context);
  };
  if (request.messages.length === 0) fail('chat request has no messages; send at least one user message');
  if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
    fail(`maxTokens must be a positive integer, got ${request.maxTokens}`);
  }
  const schema = request.responseSchema;
  if (schema !== undefined) {
    if (!TOOL_NAME.test(schema.name))
      fail(`responseSchema name "${schema.name}" must match ${TOOL_NAME.source}`);
    assertValidSchema(schema.schema, `responseSchema "${schema.name}"`, context);
  }
  const tools = offeredTools(request);
  const names = new Set<string>();
  for (const tool of tools) {
    if (!TOOL_NAME.test(tool.name)) fail(`tool name "${tool.name}" must match ${TOOL_NAME.source}`);
    if (names.has(tool.name)) fail(`tool "${tool.name}" is offered twice; tool names must be unique`);
    names.add(tool.name);
    assertValidSchema(tool.parameters, `parameters of tool "${tool.name}"`, context);
  }
  const choice = request.toolChoice;
  if (typeof choice === 'object' && !names.has(choice.name)) {
    fail(
      `toolChoice names "${choice.name}", which is not among the offered tools (${[...names].join(', ') || 'none'})`,
    );
  }
  if (choice === 'required' && tools.length === 0) fail('toolChoice "required" needs at least one tool');
}
