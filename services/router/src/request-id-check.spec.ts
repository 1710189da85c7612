import { randomBytes } from 'node:crypto';
import { ApiKeyRegistry } from '@llmbus/access';
import type { RecordedRouting } from '@llmbus/audit';
import { InMemoryTransport, outgoing } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import { RequestRoutedEvent, RequestSubmittedEvent, type RequestSubmitted } from '@llmbus/contracts';
import { ScriptedModelProvider } from '@llmbus/models';
import { busFromConfig } from '@llmbus/runtime';
import pino from 'pino';
import { startRouter, type RequestStatusSource } from './index';
import { digestOfSubmission, requestIdReuse } from './request-id-reuse';

/** Request ids dropped as duplicates so far (the router's own counter). */
async function duplicatesCounted(): Promise<number> {
  return (await requestIdReuse.get()).values
    .filter((v) => v.labels['outcome'] === 'duplicate')
    .reduce((sum, v) => sum + v.value, 0);
}

const logger = pino({ level: 'silent' });

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A router composed as a distributed one (PII attestations on, so the request's fields are
 * tagged), whose audit trail answers the request-id check only when the test releases it.
 */
async function gatedRouter(answer: (request: RequestSubmitted) => RecordedRouting | undefined) {
  const config = loadPlatformConfig(
    {
      LLMBUS_MODE: 'distributed',
      KAFKA_BROKERS: '127.0.0.1:1',
      LLMBUS_PII_KEY: randomBytes(32).toString('base64'),
    },
    { mode: 'distributed', httpPort: 0, clientId: 'request-id-check-test', servesHttp: false },
  );
  const bus = busFromConfig(config, logger, new InMemoryTransport());
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const state = { asked: false, embedCalls: 0, request: undefined as RequestSubmitted | undefined };
  const statusStore: RequestStatusSource = {
    requestStatus: async () => undefined,
    ping: async () => undefined,
    routingOf: async () => {
      state.asked = true;
      await gate;
      return answer(state.request!);
    },
  };
  const classifierModels = {
    embed: async (texts: readonly string[]) => {
      state.embedCalls += 1;
      return (await new ScriptedModelProvider().embed(texts)).vectors;
    },
  };
  const routed: unknown[] = [];
  await bus.subscribe({
    stage: 'auditor',
    groupId: 'observer-routed',
    notifyRequester: false,
    handlers: { [RequestRoutedEvent.type]: async (e) => (routed.push(e), []) },
  });
  const app: StageApp = await startRouter({
    bus,
    config,
    logger,
    apiKeys: ApiKeyRegistry.parse('acme-submitter-key-0001:acme:submitter'),
    httpPort: 0,
    classifierModels,
    statusStore,
  });
  // The classifier embeds its labelled examples at start: only calls made for a request count.
  state.embedCalls = 0;
  const submit = async (request: RequestSubmitted) => {
    state.request = request;
    await bus.publish([outgoing(RequestSubmittedEvent, request, { tenantId: 'acme' })]);
  };
  const close = async () => {
    release();
    await app.close();
    await bus.close();
  };
  return { state, routed, submit, release, close };
}

const requestOf = (requestId: string, body: string): RequestSubmitted => ({
  requestId,
  eventType: 'ticket.created',
  input: { subject: 'Cannot log in', body, priority: 'normal' },
  requester: { groups: [] },
});

describe('router request-id check', () => {
  it('drops a duplicate the audit trail reports without classifying it or publishing anything', async () => {
    const router = await gatedRouter((request) => ({
      eventId: 'the-first-event',
      submissionDigest: digestOfSubmission(request),
    }));
    try {
      const before = await duplicatesCounted();
      await router.submit(requestOf('rc-2', 'Maria Schmidt cannot log in either.'));
      await until(() => router.state.asked, 'the request-id check');
      router.release();
      const deadline = Date.now() + 10_000;
      while ((await duplicatesCounted()) === before) {
        if (Date.now() > deadline) throw new Error('the duplicate was not counted within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(router.state.embedCalls).toBe(0);
      expect(router.routed).toHaveLength(0);
    } finally {
      await router.close();
    }
  });
});
