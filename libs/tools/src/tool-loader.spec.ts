import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolConfigError } from './errors';
import { logSearchTool } from './log-search';
import { openTools } from './open-tools';
import { productBuiltinTools } from './product-builtins';
import { DEFAULT_TOOLS_DIR, loadToolDirectory, parseToolDocument } from './tool-loader';

const FIXTURE = join(__dirname, '..', 'test', 'mcp-fixture-server.mjs');

const valid = `
httpHosts: [127.0.0.1:8089]
tools:
  - name: restart_service
    kind: http
    description: Restart one service
    url: \${RESTART_URL}/restart
    arguments: { type: object, required: [service], properties: { service: { type: string } } }
    risk: high
    tenants: [acme]
    timeoutMs: 5000
    maxResultBytes: 2048
`;

function problemsOf(
  text: string,
  env: Record<string, string> = { RESTART_URL: 'http://127.0.0.1:8089' },
): string[] {
  try {
    parseToolDocument(text, 'tools/broken.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ToolConfigError);
    expect((error as Error).message.startsWith('tools/broken.yaml: ')).toBe(true);
    return [...(error as ToolConfigError).problems];
  }
  throw new Error('expected the document to be rejected');
}

describe('tool files', () => {
  it('loads the shipped tools folder and opens it with the built-in log_search', async () => {
    const config = loadToolDirectory(DEFAULT_TOOLS_DIR, {});
    const opened = await openTools(config, productBuiltinTools());
    expect(opened.registry.definition('log_search')).toMatchObject({
      kind: 'builtin',
      risk: 'read',
      cacheable: true,
    });
    await opened.close();
  });

  it('ships the runbook tools: read diagnostics and a high-risk restart_service on a configurable endpoint', async () => {
    const config = loadToolDirectory(DEFAULT_TOOLS_DIR, {});
    const opened = await openTools(config, productBuiltinTools());
    const risks = Object.fromEntries(opened.registry.definitions().map((d) => [d.name, [d.kind, d.risk]]));
    expect(risks).toMatchObject({
      metrics_query: ['builtin', 'read'],
      ticket_history: ['builtin', 'read'],
      restart_service: ['http', 'high'],
    });
    expect(config.tools.find((t) => t.name === 'restart_service')?.url).toBe(
      'http://127.0.0.1:19180/v1/restart',
    );
    await opened.close();
    const moved = loadToolDirectory(DEFAULT_TOOLS_DIR, { RESTART_SERVICE_URL: 'http://localhost:29480' });
    expect(moved.tools.find((t) => t.name === 'restart_service')?.url).toBe('http://localhost:29480');
    expect(() =>
      loadToolDirectory(DEFAULT_TOOLS_DIR, { RESTART_SERVICE_URL: 'https://ops.example.com/restart' }),
    ).toThrow('tools[0].url: host ops.example.com is not in httpHosts');
  });

  it('uses the default of ${VAR:-default} only when the variable is unset or empty', () => {
    const text = valid.replace('${RESTART_URL}', '${RESTART_URL:-http://127.0.0.1:8089}');
    const url = (env: Record<string, string>) => parseToolDocument(text, 'tools/ok.yaml', env).tools[0]?.url;
    expect(url({})).toBe('http://127.0.0.1:8089/restart');
    expect(url({ RESTART_URL: '' })).toBe('http://127.0.0.1:8089/restart');
    expect(url({ RESTART_URL: 'http://127.0.0.1:8089/v2' })).toBe('http://127.0.0.1:8089/v2/restart');
  });

  it('reads an HTTP tool, expanding ${VAR} from the environment', () => {
    const config = parseToolDocument(valid, 'tools/ok.yaml', { RESTART_URL: 'http://127.0.0.1:8089' });
    expect(config.tools[0]).toMatchObject({
      url: 'http://127.0.0.1:8089/restart',
      risk: 'high',
      source: 'tools/ok.yaml',
    });
  });

  it('names the file and field of a bad risk level, an unknown field and a missing one', () => {
    const problems = problemsOf(
      valid.replace('risk: high', 'risk: dangerous\n    retries: 2').replace('    timeoutMs: 5000\n', ''),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'tools[0].risk: must be one of read, write, high',
        'tools[0].retries: is not a known field',
        'tools[0].timeoutMs: is required',
      ]),
    );
  });

  it('names a URL host missing from httpHosts and an unset variable', () => {
    expect(problemsOf(valid.replace('127.0.0.1:8089]', 'tools.internal]'))).toContain(
      'tools[0].url: host 127.0.0.1:8089 is not in httpHosts',
    );
    expect(problemsOf(valid, {})).toContain('tools[0].url: environment variable RESTART_URL is not set');
  });

  it('names an arguments schema with an unknown keyword', () => {
    expect(problemsOf(valid.replace('type: object, required', 'type: object, requird'))).toEqual([
      expect.stringMatching(
        /^tools\[0\]\.arguments: not a valid JSON Schema \(strict mode: unknown keyword: "requird"\)/,
      ),
    ]);
  });

  it('names a tool declared in two files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-tools-'));
    writeFileSync(join(dir, 'a.yaml'), valid);
    writeFileSync(join(dir, 'b.yaml'), valid);
    expect(() => loadToolDirectory(dir, { RESTART_URL: 'http://127.0.0.1:8089' })).toThrow(
      `${join(dir, 'b.yaml')}: tool restart_service is already declared in ${join(dir, 'a.yaml')}`,
    );
  });

  it('takes an MCP tool schema from the server and names a tool the server does not list', async () => {
    const file = (serverTool: string) => `
mcpServers:
  - name: inventory
    transport: { type: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(FIXTURE)}] }
tools:
  - name: inventory_lookup
    kind: mcp
    server: inventory
    serverTool: ${serverTool}
    risk: read
    tenants: ['*']
    timeoutMs: 5000
    maxResultBytes: 4096
`;
    const opened = await openTools(parseToolDocument(file('lookup_host'), 'tools/mcp.yaml', {}));
    expect(opened.registry.definition('inventory_lookup')).toMatchObject({
      kind: 'mcp',
      description: 'Look up a host in the inventory',
      argumentsSchema: { required: ['host'] },
    });
    expect(opened.registry.argumentProblems('inventory_lookup', {})).toEqual(['arguments.host: is required']);
    await opened.close();
    await expect(openTools(parseToolDocument(file('reboot_host'), 'tools/mcp.yaml', {}))).rejects.toThrow(
      'tools/mcp.yaml: tools[0].serverTool: MCP server inventory lists no tool named reboot_host',
    );
  });

  it('names a built-in tool the product does not have', async () => {
    const config = parseToolDocument(
      "tools: [{ name: disk_usage, kind: builtin, risk: read, tenants: ['*'], timeoutMs: 10, maxResultBytes: 10 }]",
      'tools/x.yaml',
      {},
    );
    await expect(openTools(config, [logSearchTool()])).rejects.toThrow(
      'tools/x.yaml: tools[0].name: no built-in tool named disk_usage exists in this product',
    );
  });
});
