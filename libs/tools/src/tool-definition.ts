/** How much harm a tool can do: `read` observes, `write` changes state, `high` needs a person's approval. */
export type ToolRisk = 'read' | 'write' | 'high';

/** The risk levels, lowest first. */
export const TOOL_RISKS: readonly ToolRisk[] = ['read', 'write', 'high'];

/** Where a tool runs: code in the product, an HTTP endpoint, or a Model Context Protocol server. */
export type ToolKind = 'builtin' | 'http' | 'mcp';

/** A JSON Schema document (draft 2020-12 subset that ajv understands). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** Tenants that may use every tool marked with it. */
export const ANY_TENANT = '*';

/**
 * A declared capability a model may ask for. Limits are enforced by the lib, not trusted to the
 * adapter: results beyond `maxResultBytes` (UTF-8 bytes) are cut, calls beyond `timeoutMs` aborted.
 */
export interface ToolDefinition {
  /** Unique name the model calls it by (`^[a-z][a-z0-9_]{0,63}$`). */
  readonly name: string;
  readonly description: string;
  readonly kind: ToolKind;
  /** JSON Schema of the call's arguments; the arguments are always a JSON object. */
  readonly argumentsSchema: JsonSchema;
  /** Cap on the result text, in UTF-8 bytes. */
  readonly maxResultBytes: number;
  /** Cap on one call's duration, in milliseconds. */
  readonly timeoutMs: number;
  readonly risk: ToolRisk;
  /** Tenant ids allowed to use the tool; `['*']` allows every tenant. */
  readonly tenants: readonly string[];
  /** Whether the same arguments may be answered from a cache (read-only, deterministic enough). */
  readonly cacheable: boolean;
  /** How long a cached result of a `cacheable` read tool is reused, in milliseconds (default 60,000). */
  readonly cacheTtlMs?: number;
  /**
   * HTTP tools only: a `write` or `high` call whose earlier run may have taken effect unseen (the
   * process died before its result was recorded) is sent again with the same `Idempotency-Key`,
   * because the endpoint honours the key. Otherwise such a call is not run again and its outcome
   * is recorded as unknown.
   */
  readonly retryUncertain?: boolean;
}

/** One call a model asked for; `id` is derived by the caller (stable across retries) and keys idempotency. */
export interface ToolCall {
  readonly id: string;
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Why the model's arguments could not be parsed (not JSON, not an object): the gate refuses the call. */
  readonly argumentsError?: string;
}

/** Where a result came from, so it is always shown as data from that origin and never as instructions. */
export interface ToolOrigin {
  readonly kind: ToolKind;
  /** The built-in tool's name, the HTTP URL, or `<server>/<tool>` for MCP. */
  readonly source: string;
}

/**
 * What a tool returned: untrusted text plus its origin. `truncated` says the text was cut at the
 * tool's `maxResultBytes`; `bytes` is the length kept, in UTF-8 bytes.
 */
export interface ToolResult {
  readonly callId: string;
  readonly tool: string;
  readonly origin: ToolOrigin;
  readonly content: string;
  readonly truncated: boolean;
  readonly bytes: number;
  /** True when the result came from the tool result cache instead of a new call. */
  readonly cached?: boolean;
}

/**
 * Who a call runs for, set by the caller from the request (never from the model's arguments):
 * tools that read tenant data scope every read to `tenant`.
 */
export interface ToolCallContext {
  readonly tenant: string;
}

/**
 * The port every kind of tool sits behind. `call` resolves with the result or rejects with a
 * ToolError; it stops work when `signal` aborts (timeout or shutdown). `context` is absent only
 * for callers outside a request; tools that need the tenant then fail.
 */
export interface ToolAdapter {
  call(call: ToolCall, signal: AbortSignal, context?: ToolCallContext): Promise<ToolResult>;
}
