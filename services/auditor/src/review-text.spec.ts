import { PgliteAuditStore } from '@llmbus/audit';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import pino from 'pino';
import request from 'supertest';
import { startAuditor } from './index';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

// A reviewer's comment or edited output travels in ReviewDecided and is stored: text that
// cannot be stored is refused at the HTTP edge, not by every consumer downstream.
const logger = pino({ level: 'silent' });
const REVIEWER = 'review-key-acme-0001';

describe('auditor review API: text that cannot be stored', () => {
  let store: PgliteAuditStore;
  let bus: EventBus;
  let app: StageApp;

  beforeAll(async () => {
    store = await PgliteAuditStore.open();
    bus = new EventBus(new InMemoryTransport(), { logger });
    const config = loadPlatformConfig(
      { API_KEYS: `${REVIEWER}:acme:reviewer`, HTTP_PORT: '0' },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    app = await startAuditor({ bus, config, logger, store });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await store?.close();
  });

  it('answers 400 invalid_request naming the comment or output field that holds U+0000 or a lone surrogate', async () => {
    const res = await request(app.url!)
      .post('/v1/reviews/r-1/decision')
      .set('X-Api-Key', REVIEWER)
      .send({ decision: 'edit', comment: 'ok\u0000', output: { reply: 'cut \uD83D' } })
      .expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'invalid_request' });
    expect(res.body.details).toEqual([
      expect.stringMatching(/^comment: contains U\+0000/),
      expect.stringMatching(/^output\.reply: contains a lone high surrogate/),
    ]);
  });
});
