import { BuiltinToolAdapter, type BuiltinTool } from './builtin-tools';
import { ToolConfigError } from './errors';
import { HttpToolAdapter } from './http-tool-adapter';
import { McpToolAdapter } from './mcp-tool-adapter';
import type { ToolDefinition } from './tool-definition';
import type { ToolConfiguration, ToolDeclaration } from './tool-loader';
import { ToolRegistry } from './tool-registry';

/** A registry with its live connections; `close` ends MCP sessions (and stdio server processes). */
export interface OpenedTools {
  readonly registry: ToolRegistry;
  close(): Promise<void>;
}

/**
 * Builds the registry a stage runs: built-in tools from `builtins` (code gives the schema, the
 * file gives limits, risk and tenants), HTTP tools from the file, MCP tools with schemas from each
 * server's `tools/list`. A declared tool with no implementation, or an MCP tool the server does
 * not list, is a ToolConfigError naming the file and field. Servers are connected only when a
 * declared tool uses them.
 */
export async function openTools(
  config: ToolConfiguration,
  builtins: readonly BuiltinTool[] = [],
): Promise<OpenedTools> {
  const registry = new ToolRegistry();
  const builtinCaps = Object.fromEntries(config.tools.map((t) => [t.name, t.maxResultBytes]));
  const builtinAdapter = new BuiltinToolAdapter(builtinCaps);
  const httpAdapter = new HttpToolAdapter(
    Object.fromEntries(
      config.tools
        .filter((t) => t.kind === 'http')
        .map((t) => [
          t.name,
          { url: t.url ?? '', maxResultBytes: t.maxResultBytes, headers: t.headers ?? {} },
        ]),
    ),
    config.httpHosts,
  );
  const servers = new Map<string, McpToolAdapter>();
  const close = async () => {
    await Promise.allSettled([...servers.values()].map((server) => server.close()));
  };
  try {
    for (const tool of config.tools) {
      switch (tool.kind) {
        case 'builtin': {
          const code = builtins.find((b) => b.name === tool.name);
          if (!code)
            throw fileError(tool, 'name', `no built-in tool named ${tool.name} exists in this product`);
          builtinAdapter.register(code);
          registry.add(definitionOf(tool, code.description, code.argumentsSchema), builtinAdapter);
          break;
        }
        case 'http':
          registry.add(definitionOf(tool, tool.description ?? '', tool.arguments ?? {}), httpAdapter);
          break;
        case 'mcp': {
          const server = await connectServer(config, tool, servers);
          const serverTool = tool.serverTool ?? tool.name;
          const listed = (await server.listTools()).find((t) => t.name === serverTool);
          if (!listed)
            throw fileError(
              tool,
              'serverTool',
              `MCP server ${server.server} lists no tool named ${serverTool}`,
            );
          server.bind(tool.name, { serverTool, maxResultBytes: tool.maxResultBytes });
          registry.add(
            definitionOf(tool, tool.description ?? listed.description, listed.inputSchema),
            server,
          );
          break;
        }
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { registry, close };
}

async function connectServer(
  config: ToolConfiguration,
  tool: ToolDeclaration,
  servers: Map<string, McpToolAdapter>,
): Promise<McpToolAdapter> {
  const name = tool.server ?? '';
  const open = servers.get(name);
  if (open) return open;
  const declared = config.mcpServers.find((s) => s.name === name);
  if (!declared) throw fileError(tool, 'server', `no MCP server named ${name}`);
  const server = await McpToolAdapter.connect(name, declared.transport);
  servers.set(name, server);
  return server;
}

function definitionOf(
  tool: ToolDeclaration,
  description: string,
  argumentsSchema: Readonly<Record<string, unknown>>,
): ToolDefinition {
  return {
    name: tool.name,
    description,
    kind: tool.kind,
    argumentsSchema,
    maxResultBytes: tool.maxResultBytes,
    timeoutMs: tool.timeoutMs,
    risk: tool.risk,
    tenants: tool.tenants,
    cacheable: tool.cacheable ?? false,
    ...(tool.cacheTtlMs === undefined ? {} : { cacheTtlMs: tool.cacheTtlMs }),
    ...(tool.retryUncertain === true ? { retryUncertain: true } : {}),
  };
}

function fileError(tool: ToolDeclaration, field: string, message: string): ToolConfigError {
  return new ToolConfigError(tool.source, [`tools[${tool.index}].${field}: ${message}`]);
}
