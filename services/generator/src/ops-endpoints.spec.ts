import { ApiKeyRegistry } from '@llmbus/access';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import { ScriptedModelProvider } from '@llmbus/models';
import pino from 'pino';
import { startGenerator } from './index';

describe('generator ops endpoints', () => {
  it('serves /healthz openly and /metrics to readers only, on METRICS_PORT', async () => {
    const logger = pino({ level: 'silent' });
    const config = {
      ...loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 't' }),
      metricsPort: 0,
    };
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const apiKeys = ApiKeyRegistry.parse(
      'reader-key-0123456789:acme:reader,submit-key-0123456789:acme:submitter',
    );
    const app = await startGenerator({ bus, config, logger, apiKeys, models: new ScriptedModelProvider() });
    try {
      expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${app.url}/metrics`)).status).toBe(401);
      expect(
        (await fetch(`${app.url}/metrics`, { headers: { 'x-api-key': 'submit-key-0123456789' } })).status,
      ).toBe(403);
      const metrics = await fetch(`${app.url}/metrics`, {
        headers: { 'x-api-key': 'reader-key-0123456789' },
      });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('orchestrator_events_total');
    } finally {
      await app.close();
      await bus.close();
    }
  });

  it('answers /healthz with 503 and the reason while a consumer of the stage is not consuming', async () => {
    const logger = pino({ level: 'silent' });
    const config = {
      ...loadPlatformConfig({}, { mode: 'embedded', httpPort: 0, clientId: 't' }),
      metricsPort: 0,
    };
    const bus = new EventBus(new InMemoryTransport(), { logger });
    const app = await startGenerator({ bus, config, logger, models: new ScriptedModelProvider() });
    try {
      // What the Kafka transport reports while it recreates a consumer kafkajs gave up on.
      const reason = 'group llmbus.generator: crashed (TypeError: x); rejoining, attempt 1 of 3';
      const health = jest.spyOn(bus.transport, 'health').mockReturnValue({ consuming: false, reason });
      const down = await fetch(`${app.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ status: 'not_ready', reason: `not consuming events: ${reason}` });
      health.mockRestore();
      const up = await fetch(`${app.url}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ status: 'ok' });
    } finally {
      await app.close();
      await bus.close();
    }
  });
});
