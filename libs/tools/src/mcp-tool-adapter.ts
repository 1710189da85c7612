import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { abortedError } from './builtin-tools';
import { ToolError } from './errors';
import { capText } from './result-cap';
import type { JsonSchema, ToolAdapter, ToolCall, ToolResult } from './tool-definition';

/**
 * The MCP SDK, loaded on the first connect: a process with no MCP server configured (most stage
 * processes) does not pay its load time at start-up (100-160 ms of CPU on a loaded 2-core box).
 */
function mcpSdk(): {
  Client: typeof Client;
  StdioClientTransport: typeof StdioClientTransport;
  StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
} {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    Client: (require('@modelcontextprotocol/sdk/client/index.js') as { Client: typeof Client }).Client,
    StdioClientTransport: (
      require('@modelcontextprotocol/sdk/client/stdio.js') as {
        StdioClientTransport: typeof StdioClientTransport;
      }
    ).StdioClientTransport,
    StreamableHTTPClientTransport: (
      require('@modelcontextprotocol/sdk/client/streamableHttp.js') as {
        StreamableHTTPClientTransport: typeof StreamableHTTPClientTransport;
      }
    ).StreamableHTTPClientTransport,
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** How to reach an MCP server: a child process over stdio, or a streamable HTTP endpoint. */
export type McpTransportConfig =
  | {
      readonly type: 'stdio';
      readonly command: string;
      readonly args?: readonly string[];
      readonly env?: Readonly<Record<string, string>>;
      readonly cwd?: string;
    }
  | { readonly type: 'http'; readonly url: string };

/** A tool as the server's `tools/list` describes it. */
export interface McpToolDescriptor {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
}

/** Which server tool an llmbus tool name maps to, and its result cap in UTF-8 bytes. */
export interface McpToolBinding {
  readonly serverTool: string;
  readonly maxResultBytes: number;
}

/**
 * Calls the tools of one Model Context Protocol server through the official SDK client. Only the
 * text content of a result is returned (images and resources are named, not inlined), cut to the
 * tool's cap; a result flagged `isError` rejects with ToolError `tool_failed`.
 */
export class McpToolAdapter implements ToolAdapter {
  private readonly bindings = new Map<string, McpToolBinding>();

  private constructor(
    readonly server: string,
    private readonly client: Client,
  ) {}

  /** Connects to a server (spawning it for stdio); rejects with ToolError `transport` when it cannot. */
  static async connect(server: string, transport: McpTransportConfig): Promise<McpToolAdapter> {
    const client = new (mcpSdk().Client)({ name: 'llmbus', version: '0.1.0' });
    try {
      await client.connect(createTransport(transport));
    } catch (error) {
      throw new ToolError(
        'transport',
        server,
        `MCP server ${server}: cannot connect (${(error as Error).message})`,
      );
    }
    return new McpToolAdapter(server, client);
  }

  /** Every tool the server lists (all pages of `tools/list`), with its argument schema. */
  async listTools(): Promise<McpToolDescriptor[]> {
    const tools: McpToolDescriptor[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.listTools(cursor === undefined ? {} : { cursor });
      for (const tool of page.tools) {
        tools.push({ name: tool.name, description: tool.description ?? '', inputSchema: tool.inputSchema });
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return tools;
  }

  /** Exposes a server tool under an llmbus tool name. */
  bind(name: string, binding: McpToolBinding): this {
    this.bindings.set(name, binding);
    return this;
  }

  async call(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    const binding = this.bindings.get(call.tool);
    if (!binding)
      throw new ToolError(
        'unknown_tool',
        call.tool,
        `MCP server ${this.server} has no tool bound as ${call.tool}`,
      );
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await this.client.callTool(
        { name: binding.serverTool, arguments: { ...call.arguments } },
        undefined,
        { signal },
      );
    } catch (error) {
      if (signal.aborted) throw abortedError(call.tool, signal);
      throw new ToolError(
        'transport',
        call.tool,
        `${call.tool}: MCP call failed (${(error as Error).message})`,
      );
    }
    const text = textOf(result.content);
    if (result.isError === true) {
      throw new ToolError('tool_failed', call.tool, `${call.tool} failed: ${capText(text, 500).text}`);
    }
    const capped = capText(text, binding.maxResultBytes);
    return {
      callId: call.id,
      tool: call.tool,
      origin: { kind: 'mcp', source: `${this.server}/${binding.serverTool}` },
      content: capped.text,
      truncated: capped.truncated,
      bytes: capped.bytes,
    };
  }

  /** Closes the session (and ends a stdio server process). */
  async close(): Promise<void> {
    await this.client.close();
  }
}

function createTransport(config: McpTransportConfig): Transport {
  switch (config.type) {
    case 'stdio':
      return new (mcpSdk().StdioClientTransport)({
        command: config.command,
        args: [...(config.args ?? [])],
        ...(config.env ? { env: { ...config.env } } : {}),
        ...(config.cwd ? { cwd: config.cwd } : {}),
        stderr: 'inherit',
      });
    case 'http':
      return new (mcpSdk().StreamableHTTPClientTransport)(new URL(config.url));
  }
}

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      const item = (part ?? {}) as {
        type?: unknown;
        text?: unknown;
        uri?: unknown;
        resource?: { uri?: unknown };
      };
      if (item.type === 'text' && typeof item.text === 'string') return item.text;
      if (item.type === 'resource_link') return `[resource ${String(item.uri)}]`;
      if (item.type === 'resource') return `[resource ${String(item.resource?.uri)}]`;
      return `[${String(item.type)} content omitted]`;
    })
    .join('\n');
}
