import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ToolError } from './errors';
import { HttpToolAdapter, idempotencyKeyOf } from './http-tool-adapter';

interface Received {
  readonly path: string;
  readonly key: string | undefined;
  readonly body: unknown;
}

/** A real HTTP endpoint that records every call; `/restart` runs its effect once per Idempotency-Key. */
function startEndpoint(): Promise<{
  server: Server;
  base: string;
  received: Received[];
  effects: Map<string, number>;
}> {
  const received: Received[] = [];
  const effects = new Map<string, number>();
  const server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const key = req.headers['idempotency-key'] as string | undefined;
      received.push({ path: req.url ?? '', key, body: JSON.parse(text || 'null') });
      switch ((req.url ?? '').split('?')[0]) {
        case '/restart':
          // An idempotent endpoint: the side effect runs once per key, repeats just answer.
          if (key && !effects.has(key)) effects.set(key, 1);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ restarted: true }));
          return;
        case '/down':
          res.writeHead(503).end('maintenance');
          return;
        case '/huge':
          // 1 MiB in 16 KiB chunks; the client must stop reading at its cap.
          res.writeHead(200, { 'content-type': 'text/plain' });
          for (let i = 0; i < 64; i += 1) res.write('y'.repeat(16 * 1024));
          res.end();
          return;
        case '/hang':
          return; // never answers
        default:
          res.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, base: `http://127.0.0.1:${port}`, received, effects });
    }),
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('HttpToolAdapter against a node:http endpoint', () => {
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  let adapter: HttpToolAdapter;
  const signal = () => new AbortController().signal;

  beforeAll(async () => {
    endpoint = await startEndpoint();
    const at = (path: string, maxResultBytes = 4096) => ({ url: `${endpoint.base}${path}`, maxResultBytes });
    adapter = new HttpToolAdapter(
      {
        restart_service: at('/restart'),
        tokened: at('/restart?token=s3cr3t-in-url'),
        down: at('/down'),
        huge: at('/huge', 10_000),
        hang: at('/hang'),
        elsewhere: { url: 'http://example.invalid/x', maxResultBytes: 100 },
      },
      [new URL(endpoint.base).host],
    );
  });

  afterAll(async () => {
    endpoint.server.closeAllConnections();
    await new Promise((resolve) => endpoint.server.close(resolve));
  });

  it('names its origin by scheme, host and port only: a token in the tool URL never reaches the trail', async () => {
    const result = await adapter.call(
      { id: 'c-token', tool: 'tokened', arguments: { service: 'payments' } },
      signal(),
    );
    expect(result.origin.source).toBe(new URL(endpoint.base).origin);
    expect(JSON.stringify(result)).not.toContain('s3cr3t');
  });

  it('POSTs the arguments as JSON with an Idempotency-Key derived from the call id', async () => {
    const call = { id: 'req-1/round-1/call-0', tool: 'restart_service', arguments: { service: 'payments' } };
    const result = await adapter.call(call, signal());
    expect(JSON.parse(result.content)).toEqual({ restarted: true });
    expect(result.origin).toEqual({ kind: 'http', source: new URL(endpoint.base).origin });
    const last = endpoint.received.at(-1)!;
    expect(last.body).toEqual({ service: 'payments' });
    expect(last.key).toBe(idempotencyKeyOf(call));
    expect(last.key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sends the same key for a retried call and a different key for another call', async () => {
    const before = endpoint.received.length;
    const call = { id: 'req-2/round-1/call-0', tool: 'restart_service', arguments: { service: 'auth' } };
    await adapter.call(call, signal());
    await adapter.call(call, signal());
    await adapter.call({ ...call, id: 'req-3/round-1/call-0' }, signal());
    const keys = endpoint.received.slice(before).map((r) => r.key);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
    // The endpoint de-duplicates on the key: the side effect ran once for the retried call.
    expect(endpoint.effects.get(idempotencyKeyOf(call))).toBe(1);
    expect(endpoint.effects.get(idempotencyKeyOf({ id: 'req-3/round-1/call-0' }))).toBe(1);
  });

  it('turns a non-2xx answer into ToolError http_status with the status', async () => {
    const error: unknown = await adapter
      .call({ id: 'd', tool: 'down', arguments: {} }, signal())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({ code: 'http_status', status: 503, transient: true });
  });

  it('streams a large body and stops at the cap', async () => {
    const result = await adapter.call({ id: 'h', tool: 'huge', arguments: {} }, signal());
    expect(result).toMatchObject({ truncated: true, bytes: 10_000 });
    expect(result.content).toBe('y'.repeat(10_000));
  });

  it('refuses a URL whose host is not in the allowlist, without sending anything', async () => {
    const before = endpoint.received.length;
    await expect(adapter.call({ id: 'e', tool: 'elsewhere', arguments: {} }, signal())).rejects.toMatchObject(
      {
        code: 'host_not_allowed',
      },
    );
    expect(endpoint.received.length).toBe(before);
  });

  it('aborts a call that outlives its timeout signal', async () => {
    await expect(
      adapter.call({ id: 't', tool: 'hang', arguments: {} }, AbortSignal.timeout(200)),
    ).rejects.toMatchObject({
      code: 'timeout',
    });
  });
});
