import { randomBytes } from 'node:crypto';
import { EventBus, KafkaTransport, outgoing } from '@llmbus/bus';
import { attributesToHeaders, RequestSubmittedEvent, type RequestSubmitted } from '@llmbus/contracts';
import {
  COMPROMISE_DETECTOR,
  CompromisePersonDetector,
  compromiseTagCalls,
  PII_ATTESTATION_HEADER,
  PiiAttestations,
  type PiiSpan,
} from '@llmbus/pii';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { ensureTopics } from '../support/kafka-topics';
import { kafkaBrokers, uniquePrefix } from '../support/env';

jest.setTimeout(120_000);
const logger = pino({ level: 'warn' });

/** What the stage under test did with one event: lines it tagged, spans it found. */
interface Handled {
  readonly tagged: number;
  readonly spans: PiiSpan[];
}

/**
 * A stage on the shared broker whose bus carries PII attestations (as busFromConfig composes it
 * with LLMBUS_PII_KEY): given a valid attestation of an event's text it does not call its
 * detector; given a forged one it does, and finds the same names.
 */
describe('PII attestations on a real Kafka broker', () => {
  const brokers = kafkaBrokers();
  const key = randomBytes(32);
  let prefix: string;
  let bus: EventBus;

  beforeAll(async () => {
    prefix = uniquePrefix('piiatt');
    await ensureTopics(brokers, [
      { ...RequestSubmittedEvent.topic, name: prefix + RequestSubmittedEvent.topic.name },
    ]);
    bus = new EventBus(
      new KafkaTransport({ brokers, clientId: 'pii-attestation-test', logger, sessionTimeoutMs: 10_000 }),
      { logger, topicPrefix: prefix, headerCarrier: new PiiAttestations(key, COMPROMISE_DETECTOR) },
    );
  });

  afterAll(async () => {
    await bus.close();
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [prefix + RequestSubmittedEvent.topic.name] }).catch(() => undefined);
    await admin.disconnect();
  });

  /** The header another stage holding the key attaches after tagging `text`. */
  async function attestationOf(text: string, sender = new PiiAttestations(key, COMPROMISE_DETECTOR)) {
    const header = await sender.consume({}, async () => {
      new CompromisePersonDetector().detect(text);
      return sender.publishHeaders()?.[PII_ATTESTATION_HEADER];
    });
    if (header === undefined) throw new Error('the sender attached no attestation');
    return header;
  }

  /** Produces a RequestSubmitted carrying `body` and the attestation header, as a stage would. */
  async function produce(requestId: string, body: string, attestation: string): Promise<void> {
    const payload: RequestSubmitted = {
      requestId,
      eventType: 'ticket.created',
      input: { body },
      requester: { groups: [] },
    };
    const [{ data, ...attributes }] = bus.envelopes([
      outgoing(RequestSubmittedEvent, payload, { tenantId: 'acme' }),
    ]);
    await bus.transport.produce([
      {
        topic: bus.physicalTopic(RequestSubmittedEvent.topic.name),
        key: requestId,
        headers: { ...attributesToHeaders(attributes), [PII_ATTESTATION_HEADER]: attestation },
        value: JSON.stringify(data),
      },
    ]);
  }

  async function handled(results: Map<string, Handled>, requestId: string): Promise<Handled> {
    const deadline = Date.now() + 60_000;
    while (!results.has(requestId)) {
      if (Date.now() > deadline) throw new Error(`request ${requestId} not handled within 60 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return results.get(requestId)!;
  }

  it('skips the detector for a valid attestation and runs it for a forged one', async () => {
    const results = new Map<string, Handled>();
    await bus.subscribe({
      stage: 'router',
      notifyRequester: false,
      handlers: {
        [RequestSubmittedEvent.type]: async (event) => {
          const data = event.data as RequestSubmitted;
          // A detector of its own per event: nothing cached from the event before.
          const detector = new CompromisePersonDetector();
          const before = compromiseTagCalls();
          const spans = detector.detect(String(data.input['body']));
          results.set(data.requestId, { tagged: compromiseTagCalls() - before, spans });
          return [];
        },
      },
    });
    const body = 'Hi, this is Oliver Twist in Leeds.\nMaria Schmidt from finance is locked out too.';
    const expected = new CompromisePersonDetector().detect(body);
    expect(expected.map((s) => s.text)).toEqual(['Oliver Twist', 'Maria Schmidt']);

    await produce('valid', body, await attestationOf(body));
    expect(await handled(results, 'valid')).toEqual({ tagged: 0, spans: expected });

    // Signed by a producer without the key (one that produces requests straight to the topic).
    const forged = await attestationOf(body, new PiiAttestations(randomBytes(32), COMPROMISE_DETECTOR));
    await produce('forged', body, forged);
    expect(await handled(results, 'forged')).toEqual({ tagged: 2, spans: expected });
  });
});
