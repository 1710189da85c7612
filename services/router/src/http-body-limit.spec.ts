import { ApiKeyRegistry } from '@llmbus/access';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import pino from 'pino';
import { startRouter } from './index';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};

const KEY = 'acme-submitter-key-0001';
const apiKeys = ApiKeyRegistry.parse(`${KEY}:acme:submitter+reader`);
const config = loadPlatformConfig(
  { LLMBUS_MODE: 'embedded' },
  { mode: 'embedded', httpPort: 0, clientId: 'test' },
);

/** JSON with every non-ASCII character written as a \uXXXX escape, as ASCII-only encoders send it. */
function asciiEscapedJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A valid support ticket whose body is `chars` accented characters (2 bytes each in UTF-8, 6 escaped). */
function accentedTicket(chars: number) {
  return {
    eventType: 'ticket.created',
    input: { subject: 'Umlaute im Export', body: 'é'.repeat(chars), priority: 'normal' },
  };
}

interface LogLine {
  level: number;
  msg?: string;
  err?: unknown;
  context?: string;
  res?: { statusCode: number };
}

describe('router HTTP body limit', () => {
  let bus: EventBus;
  let app: StageApp;
  let lines: LogLine[];

  async function start(maxEventBytes?: number): Promise<void> {
    lines = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    bus = new EventBus(new InMemoryTransport(), { logger, maxEventBytes });
    // Body limits are decided before any status is read: statuses are not under test here.
    const statusStore = { requestStatus: async () => undefined, ping: async () => undefined };
    app = await startRouter({ bus, config, logger, apiKeys, httpPort: 0, classifierModels, statusStore });
  }

  function post(body: string): Promise<Response> {
    return fetch(`${app.url}/v1/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body,
    });
  }

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  it('accepts a valid ticket sent ASCII-escaped as ~105 kB of JSON (over the framework default of 100 kB)', async () => {
    await start();
    const body = asciiEscapedJson(accentedTicket(17_500));
    expect(Buffer.byteLength(body)).toBeGreaterThan(105_000);
    const res = await post(body);
    expect(res.status).toBe(202);
  });

  it('answers a body over the HTTP limit with 413 naming LLMBUS_MAX_EVENT_BYTES, logged at warn without a stack', async () => {
    // 16 KiB events: the HTTP limit is 64 KiB, and the escaped ticket is ~105 kB.
    await start(16 * 1024);
    const res = await post(asciiEscapedJson(accentedTicket(17_500)));
    expect(res.status).toBe(413);
    const answer = (await res.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({
      error: 'payload_too_large',
      variable: 'LLMBUS_MAX_EVENT_BYTES',
      maxEventBytes: 16_384,
      limitBytes: 65_536,
    });
    expect(answer['message']).toMatch(/HTTP body limit is 65536 bytes \(4 × LLMBUS_MAX_EVENT_BYTES/);
    const refused = lines.filter((l) => /answered 413/.test(l.msg ?? ''));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40 });
    expect(JSON.stringify(refused[0])).not.toMatch(/"stack"/);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('answers an event over LLMBUS_MAX_EVENT_BYTES once encoded with 413 naming the variable', async () => {
    await start(16 * 1024);
    // ~38 kB of UTF-8: within the HTTP limit, over the 16 KiB event limit.
    const res = await post(JSON.stringify(accentedTicket(19_000)));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: 'payload_too_large',
      variable: 'LLMBUS_MAX_EVENT_BYTES',
      message: expect.stringMatching(/the limit is LLMBUS_MAX_EVENT_BYTES, 16384 bytes/),
    });
  });

  it('logs a 400 at warn, without an error or stack', async () => {
    await start();
    const res = await post(JSON.stringify({ eventType: 'ticket.created', input: 'not an object' }));
    expect(res.status).toBe(400);
    const line = lines.find((l) => l.res?.statusCode === 400);
    expect(line).toMatchObject({ level: 40 });
    expect(line?.err).toBeUndefined();
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});
