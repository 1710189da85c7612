import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import pino from 'pino';
import { startRouter, type RequestStatusSource } from './index';

describe('router start with a classifying workflow', () => {
  it('refuses to start without an embedding model, naming the workflow and its method', async () => {
    const bus = new EventBus(new InMemoryTransport(), { logger: pino({ level: 'silent' }) });
    const config = loadPlatformConfig(
      { LLMBUS_MODE: 'embedded', API_KEYS: 'classifier-start-key-0001:acme:admin' },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    await expect(
      startRouter({
        bus,
        config,
        logger: pino({ level: 'silent' }),
        statusStore: {} as RequestStatusSource,
        httpPort: 0,
      }),
    ).rejects.toThrow(/support-ticket@2 classifies with method knn, which needs an embedding model/);
    await bus.close();
  });
});
