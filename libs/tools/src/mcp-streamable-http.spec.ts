import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { McpToolAdapter } from './mcp-tool-adapter';

describe('McpToolAdapter over streamable HTTP against the SDK McpServer', () => {
  let http: Server;
  let url: string;
  let calls = 0;

  beforeAll(async () => {
    const mcp = new McpServer({ name: 'llmbus-http-fixture', version: '1.0.0' });
    mcp.registerTool(
      'disk_usage',
      { description: 'Disk usage of a host', inputSchema: { host: z.string().min(1) } },
      ({ host }) => {
        calls += 1;
        return Promise.resolve({ content: [{ type: 'text' as const, text: `${host}: /var 91% used` }] });
      },
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
    await mcp.connect(transport);
    http = createServer((req, res) => void transport.handleRequest(req, res));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });

  afterAll(async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  it('lists the server tools and calls one, once', async () => {
    const server = await McpToolAdapter.connect('ops', { type: 'http', url });
    try {
      expect((await server.listTools()).map((t) => t.name)).toEqual(['disk_usage']);
      server.bind('disk_usage', { serverTool: 'disk_usage', maxResultBytes: 1024 });
      const result = await server.call(
        { id: 'c1', tool: 'disk_usage', arguments: { host: 'payments-5d4b-1' } },
        new AbortController().signal,
      );
      expect(result).toMatchObject({
        content: 'payments-5d4b-1: /var 91% used',
        origin: { kind: 'mcp', source: 'ops/disk_usage' },
      });
      expect(calls).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('fails to connect to an address with no server with ToolError transport', async () => {
    await expect(
      McpToolAdapter.connect('gone', { type: 'http', url: 'http://127.0.0.1:9/mcp' }),
    ).rejects.toMatchObject({
      code: 'transport',
    });
  });
});
