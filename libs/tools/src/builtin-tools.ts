import { ToolError } from './errors';
import { capText } from './result-cap';
import type { ToolAdapter, ToolCall, ToolCallContext, ToolResult } from './tool-definition';

/**
 * A tool written in the product. It receives schema-valid arguments, a signal it must honour and
 * the call's context (the tenant, from the request); it returns text, or a value that is
 * serialised as JSON.
 */
export type BuiltinToolFunction = (
  args: Readonly<Record<string, unknown>>,
  signal: AbortSignal,
  context?: ToolCallContext,
) => Promise<unknown>;

/** A built-in tool as code declares it: its function and the argument schema it expects. */
export interface BuiltinTool {
  readonly name: string;
  readonly description: string;
  readonly argumentsSchema: Readonly<Record<string, unknown>>;
  readonly run: BuiltinToolFunction;
}

/** Runs tools written in the product, each registered once by name. */
export class BuiltinToolAdapter implements ToolAdapter {
  private readonly tools = new Map<string, BuiltinTool>();

  /** @param maxResultBytes per tool, UTF-8 bytes; a tool without an entry is uncapped here (the registry caps too). */
  constructor(private readonly maxResultBytes: Readonly<Record<string, number>> = {}) {}

  /** Adds a tool; throws when the name is already taken. */
  register(tool: BuiltinTool): this {
    if (this.tools.has(tool.name)) throw new Error(`built-in tool ${tool.name} is registered twice`);
    this.tools.set(tool.name, tool);
    return this;
  }

  /** The registered tool of that name, if any. */
  get(name: string): BuiltinTool | undefined {
    return this.tools.get(name);
  }

  /** Runs the named tool; rejects with ToolError `unknown_tool`, `aborted` or `tool_failed`. */
  async call(call: ToolCall, signal: AbortSignal, context?: ToolCallContext): Promise<ToolResult> {
    const tool = this.tools.get(call.tool);
    if (!tool) throw new ToolError('unknown_tool', call.tool, `no built-in tool named ${call.tool}`);
    if (signal.aborted) throw abortedError(call.tool, signal);
    let value: unknown;
    try {
      value = await tool.run(call.arguments, signal, context);
    } catch (error) {
      if (signal.aborted) throw abortedError(call.tool, signal);
      throw new ToolError('tool_failed', call.tool, `${call.tool} failed: ${(error as Error).message}`);
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const capped = capText(text, this.maxResultBytes[call.tool] ?? Number.POSITIVE_INFINITY);
    return {
      callId: call.id,
      tool: call.tool,
      origin: { kind: 'builtin', source: call.tool },
      content: capped.text,
      truncated: capped.truncated,
      bytes: capped.bytes,
    };
  }
}

/** The ToolError for a call stopped by its signal: `timeout` when the reason is a TimeoutError. */
export function abortedError(tool: string, signal: AbortSignal): ToolError {
  const reason: unknown = signal.reason;
  if (reason instanceof ToolError) return reason;
  // DOMException from AbortSignal.timeout; checked by name, as it may come from another realm.
  if (
    typeof reason === 'object' &&
    reason !== null &&
    (reason as { name?: unknown }).name === 'TimeoutError'
  ) {
    return new ToolError('timeout', tool, `${tool} did not finish within its timeout`);
  }
  return new ToolError('aborted', tool, `${tool} was cancelled`);
}
