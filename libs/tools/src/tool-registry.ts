import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import Ajv, { type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { argumentProblemLines, argumentSchemaOptions as options, isDraft2020 } from './argument-problems';
import { abortedError } from './builtin-tools';
import { ToolError } from './errors';
import { capText } from './result-cap';
import type { ToolAdapter, ToolCall, ToolCallContext, ToolDefinition, ToolResult } from './tool-definition';

interface RegisteredTool {
  readonly definition: ToolDefinition;
  readonly adapter: ToolAdapter;
  readonly validate: ValidateFunction;
}

/**
 * The tools a stage can run: each definition with its adapter and its argument schema, compiled
 * once by ajv. `run` enforces the definition's timeout and result cap whatever the adapter does;
 * it does not check allowlists, tenants or risk: that is the ToolGate's job.
 */
export class ToolRegistry {
  private readonly tools = new Map<string, RegisteredTool>();
  // Our own schemas are strict (an unknown keyword would silently validate nothing); schemas an
  // MCP server lists are not ours to fix, so their unknown keywords are ignored. Each dialect
  // (draft-07, the SDK's default, and 2020-12, MCP's default) has its own validator.
  private readonly validators = {
    strict: {
      draft7: withFormats(new Ajv(options(true))),
      draft2020: withFormats(new Ajv2020(options(true))),
    },
    lenient: {
      draft7: withFormats(new Ajv(options(false))),
      draft2020: withFormats(new Ajv2020(options(false))),
    },
  };

  /** Adds a tool; throws when the name is taken or its argument schema does not compile. */
  add(definition: ToolDefinition, adapter: ToolAdapter): this {
    if (this.tools.has(definition.name)) throw new Error(`tool ${definition.name} is declared twice`);
    let validate: ValidateFunction;
    try {
      const family = definition.kind === 'mcp' ? this.validators.lenient : this.validators.strict;
      const dialect = isDraft2020(definition.argumentsSchema) ? 'draft2020' : 'draft7';
      validate = family[dialect].compile({ ...definition.argumentsSchema });
    } catch (error) {
      throw new Error(
        `tool ${definition.name}: arguments schema is not a valid JSON Schema (${(error as Error).message})`,
      );
    }
    this.tools.set(definition.name, { definition, adapter, validate });
    return this;
  }

  /** The definition of a tool, if declared. */
  definition(name: string): ToolDefinition | undefined {
    return this.tools.get(name)?.definition;
  }

  /** Every declared tool, in declaration order. */
  definitions(): ToolDefinition[] {
    return [...this.tools.values()].map((tool) => tool.definition);
  }

  /** Problems of `args` against the tool's schema (`arguments.field: what is wrong`); empty when valid. */
  argumentProblems(name: string, args: unknown): string[] {
    const tool = this.tools.get(name);
    if (!tool) return [`no tool named ${name}`];
    return tool.validate(args) ? [] : argumentProblemLines(tool.validate.errors);
  }

  /**
   * Runs a call through its adapter with the tool's timeout (rejects ToolError `timeout`) and
   * result cap. Callers must have passed the call through the ToolGate first; `context` (the
   * request's tenant) is handed to the adapter.
   */
  async run(call: ToolCall, signal: AbortSignal, context?: ToolCallContext): Promise<ToolResult> {
    // An `execute_tool` span per call (OpenTelemetry GenAI conventions); a no-op without a tracing SDK.
    return trace.getTracer('llmbus').startActiveSpan(
      `execute_tool ${call.tool}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': call.tool,
          'gen_ai.tool.call.id': call.id,
        },
      },
      async (span) => {
        try {
          const result = await this.runBounded(call, signal, context);
          span.setAttributes({
            'gen_ai.tool.type': result.origin.kind,
            'llmbus.tool.result_bytes': result.bytes,
            'llmbus.tool.truncated': result.truncated,
          });
          return result;
        } catch (error) {
          span.setAttribute('error.type', error instanceof ToolError ? error.code : 'unknown');
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  private async runBounded(
    call: ToolCall,
    signal: AbortSignal,
    context?: ToolCallContext,
  ): Promise<ToolResult> {
    const tool = this.tools.get(call.tool);
    if (!tool) throw new ToolError('unknown_tool', call.tool, `no tool named ${call.tool}`);
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(tool.definition.timeoutMs)]);
    let result: ToolResult;
    try {
      result = await raceAbort(tool.adapter.call(call, bounded, context), bounded, call.tool);
    } catch (error) {
      if (error instanceof ToolError) throw error;
      if (bounded.aborted) throw abortedError(call.tool, bounded);
      throw new ToolError('tool_failed', call.tool, `${call.tool} failed: ${(error as Error).message}`);
    }
    const capped = capText(result.content, tool.definition.maxResultBytes);
    return capped.truncated
      ? { ...result, content: capped.text, truncated: true, bytes: capped.bytes }
      : result;
  }
}

function withFormats<T extends Ajv>(ajv: T): T {
  addFormats(ajv);
  return ajv;
}

/** Settles with the promise, or rejects as soon as the signal aborts (an adapter that ignores it cannot hang the loop). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, tool: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortedError(tool, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(tool, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
