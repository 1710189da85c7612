import { createHash } from 'node:crypto';
import { abortedError } from './builtin-tools';
import { ToolError } from './errors';
import { readCapped } from './result-cap';
import type { ToolAdapter, ToolCall, ToolResult } from './tool-definition';

/** One HTTP tool's endpoint and limits. */
export interface HttpToolEndpoint {
  readonly url: string;
  /** Cap on the response body, in bytes; the body is streamed and reading stops at the cap. */
  readonly maxResultBytes: number;
  /** Extra request headers (e.g. an authorisation header read from the environment). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The `Idempotency-Key` sent for a call: a hex SHA-256 of the call id, so every retry of the same
 * call (same id) carries the same key and the endpoint can run the side effect once.
 */
export function idempotencyKeyOf(call: Pick<ToolCall, 'id'>): string {
  return createHash('sha256').update(`llmbus-tool-call:${call.id}`).digest('hex');
}

/**
 * Calls tools that are HTTP endpoints: POST of the arguments as JSON, only to hosts in the
 * allowlist (`host` or `host:port`, compared lower-case), stopped by the caller's signal. A non-2xx
 * answer rejects with ToolError `http_status` carrying the status; a refused host with
 * `host_not_allowed`; a network failure with `transport`.
 */
export class HttpToolAdapter implements ToolAdapter {
  private readonly hosts: ReadonlySet<string>;

  constructor(
    private readonly endpoints: Readonly<Record<string, HttpToolEndpoint>>,
    allowedHosts: readonly string[],
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.hosts = new Set(allowedHosts.map((host) => host.toLowerCase()));
  }

  /** Whether the URL's host (with or without its port) is in the allowlist. */
  allows(url: string): boolean {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    return this.hosts.has(parsed.host.toLowerCase()) || this.hosts.has(parsed.hostname.toLowerCase());
  }

  async call(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    const endpoint = this.endpoints[call.tool];
    if (!endpoint) throw new ToolError('unknown_tool', call.tool, `no HTTP tool named ${call.tool}`);
    if (!this.allows(endpoint.url)) {
      throw new ToolError(
        'host_not_allowed',
        call.tool,
        `${call.tool}: host of ${endpoint.url} is not in the HTTP tool host allowlist`,
      );
    }
    let response: Response;
    try {
      response = await this.fetchImpl(endpoint.url, {
        method: 'POST',
        headers: {
          ...endpoint.headers,
          'content-type': 'application/json',
          accept: 'application/json, text/plain;q=0.9',
          'idempotency-key': idempotencyKeyOf(call),
        },
        body: JSON.stringify(call.arguments),
        signal,
        redirect: 'error',
      });
    } catch (error) {
      if (signal.aborted) throw abortedError(call.tool, signal);
      throw new ToolError(
        'transport',
        call.tool,
        `${call.tool}: request failed (${(error as Error).message})`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new ToolError(
        'http_status',
        call.tool,
        `${call.tool}: endpoint answered HTTP ${response.status}`,
        response.status,
      );
    }
    try {
      const body = response.body
        ? await readCapped(response.body, endpoint.maxResultBytes)
        : { text: '', truncated: false, bytes: 0 };
      return {
        callId: call.id,
        tool: call.tool,
        // Scheme, host and port only: a tool URL may carry a token (`${VAR}` in its path or query),
        // and the origin goes into the trail and the model's prompt.
        origin: { kind: 'http', source: new URL(endpoint.url).origin },
        content: body.text,
        truncated: body.truncated,
        bytes: body.bytes,
      };
    } catch (error) {
      if (signal.aborted) throw abortedError(call.tool, signal);
      throw new ToolError(
        'transport',
        call.tool,
        `${call.tool}: reading the answer failed (${(error as Error).message})`,
      );
    }
  }
}
