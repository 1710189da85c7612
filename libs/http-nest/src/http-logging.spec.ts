import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import pinoHttp from 'pino-http';
import { httpLoggerParams, loggableRequestHeaders } from './http-logging';

/** A pino logger writing into `lines`, one parsed JSON object per line. */
function collectingLogger(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'info' }, destination);
}

describe('HTTP request log lines', () => {
  let server: Server;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const options = httpLoggerParams(collectingLogger(lines)).pinoHttp;
    const middleware = pinoHttp(options as Parameters<typeof pinoHttp>[0]);
    server = createServer((req, res) => {
      middleware(req, res);
      res.statusCode = 401;
      res.end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  it('never writes the value of a credential header llmbus does not read (Proxy-Authorization, api-key)', async () => {
    const secret = 'k3y-0123456789abcdef-secret';
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/v1/requests/r-1`, {
      headers: {
        'proxy-authorization': `Basic ${secret}`,
        'api-key': secret,
        'x-auth-token': secret,
        'user-agent': 'probe/1.0',
      },
    });
    await response.text();
    // pino-http logs once the response has finished.
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(secret);
    const headers = (lines[0]?.['req'] as { headers: Record<string, unknown> }).headers;
    expect(headers['proxy-authorization']).toBe('[redacted]');
    expect(headers['api-key']).toBe('[redacted]');
    expect(headers['user-agent']).toBe('probe/1.0');
    expect(lines[0]?.['level']).toBe(40);
  });

  it('keeps the values of the headers an operator needs and hides every other', () => {
    expect(
      loggableRequestHeaders({
        Host: 'a:1',
        'content-type': 'application/json',
        traceparent: '00-1-2-01',
        'x-gateway-secret': 's',
      }),
    ).toEqual({
      Host: 'a:1',
      'content-type': 'application/json',
      traceparent: '00-1-2-01',
      'x-gateway-secret': '[redacted]',
    });
  });
});
