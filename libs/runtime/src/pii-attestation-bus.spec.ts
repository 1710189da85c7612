import { randomBytes } from 'node:crypto';
import { InMemoryTransport, outgoing, type RawMessage } from '@llmbus/bus';
import { loadPlatformConfig } from '@llmbus/config';
import { RequestRoutedEvent, RequestSubmittedEvent, type RequestSubmitted } from '@llmbus/contracts';
import { CompromisePersonDetector, compromiseTagCalls, PII_ATTESTATION_HEADER } from '@llmbus/pii';
import pino from 'pino';
import { busFromConfig } from './process-runtime';

const logger = pino({ level: 'silent' });
const body = 'Hello, this is Oliver Twist from Leeds. My manager Maria Schmidt cannot log in either.';

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Two stages on one in-process transport, composed as a distributed process is (busFromConfig on
 * Kafka settings): the first tags the request's body and routes it, the second tags the same body.
 */
async function twoStages(env: Record<string, string>) {
  const config = loadPlatformConfig(
    { LLMBUS_MODE: 'distributed', KAFKA_BROKERS: '127.0.0.1:1', ...env },
    { mode: 'distributed', httpPort: 0, clientId: 'attestation-test', servesHttp: false },
  );
  const transport = new InMemoryTransport();
  const bus = busFromConfig(config, logger, transport);
  const tagged: Record<string, number> = {};
  const routed: RawMessage[] = [];
  const stage = (name: string) => {
    const detector = new CompromisePersonDetector();
    return (text: string) => {
      const before = compromiseTagCalls();
      detector.detect(text);
      tagged[name] = compromiseTagCalls() - before;
    };
  };
  const first = stage('router');
  const second = stage('retriever');
  await bus.subscribe({
    stage: 'router',
    notifyRequester: true,
    handlers: {
      [RequestSubmittedEvent.type]: async (event) => {
        const data = event.data as RequestSubmitted;
        first(String(data.input['body']));
        return [
          outgoing(RequestRoutedEvent, {
            requestId: data.requestId,
            context: {
              workflow: { id: 'support-ticket', version: 1 },
              requester: data.requester,
              modelTier: 'small',
              budget: { maxOutputTokens: 100, maxCostUsd: 0 },
            },
            input: data.input,
            retrieval: { collections: [], topK: 0, query: '' },
          }),
        ];
      },
    },
  });
  await bus.subscribe({
    stage: 'retriever',
    notifyRequester: true,
    handlers: {
      [RequestRoutedEvent.type]: async (event) => {
        second(String((event.data as { input: Record<string, unknown> }).input['body']));
        return [];
      },
    },
  });
  await transport.consume({
    groupId: 'tap',
    topics: [bus.physicalTopic(RequestRoutedEvent.topic.name)],
    handle: async (message) => void routed.push(message),
  });
  await bus.publish([
    outgoing(
      RequestSubmittedEvent,
      { requestId: 'r1', eventType: 'ticket.created', input: { body }, requester: { groups: [] } },
      { tenantId: 'acme' },
    ),
  ]);
  await until(() => routed.length === 1 && tagged['retriever'] !== undefined, 'the routed event handled');
  await bus.close();
  return { tagged, headers: routed[0].headers };
}

describe('PII attestations on the bus of a distributed process', () => {
  it('with LLMBUS_PII_KEY, the next stage reuses what the first tagged instead of tagging it again', async () => {
    const { tagged, headers } = await twoStages({ LLMBUS_PII_KEY: randomBytes(32).toString('base64') });
    expect(headers[PII_ATTESTATION_HEADER]).toMatch(/^\{.*\}\.[A-Za-z0-9_-]{43}$/);
    // The attestation carries digests and offsets, never the text.
    expect(headers[PII_ATTESTATION_HEADER]).not.toContain('Oliver');
    expect(tagged).toEqual({ router: 1, retriever: 0 });
  });

  it('without LLMBUS_PII_KEY, no header is attached and each stage tags the text itself', async () => {
    const { tagged, headers } = await twoStages({});
    expect(headers[PII_ATTESTATION_HEADER]).toBeUndefined();
    expect(tagged).toEqual({ router: 1, retriever: 1 });
  });
});
