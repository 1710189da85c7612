// Reads topics the way an external consumer would (plain kafkajs, no platform code), so e2e tests
// observe exactly what downstream systems receive.
import { Consumer, Kafka, logLevel } from 'kafkajs';

export interface TappedMessage {
  readonly topic: string;
  readonly partition: number;
  /** Offset in the partition; a redelivered record has the same topic, partition and offset. */
  readonly offset: string;
  readonly key: string | null;
  readonly headers: Record<string, string>;
  readonly value: string;
  /** Parsed JSON value, or undefined when the value is not JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/** Collects every message of some topics from the beginning; `waitFor` polls them with a deadline. */
export class TopicTap {
  readonly messages: TappedMessage[] = [];
  private consumer?: Consumer;

  constructor(
    private readonly brokers: string[],
    private readonly topics: string[],
    private readonly groupId: string,
  ) {}

  async start(): Promise<void> {
    const consumer = new Kafka({
      brokers: this.brokers,
      clientId: 'topic-tap',
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: this.groupId,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    const joined = new Promise<void>((resolve) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => (off(), resolve()));
    });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) {
          if (value !== undefined) headers[name] = (Array.isArray(value) ? value[0] : value).toString();
        }
        const value = message.value?.toString('utf8') ?? '';
        let json: Record<string, unknown> | undefined;
        try {
          json = JSON.parse(value) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        this.messages.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          headers,
          value,
          json,
        });
      },
    });
    await joined;
  }

  /** The first message matching `match`, waiting up to `timeoutMs` for it. */
  async waitFor(
    match: (m: TappedMessage) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<TappedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = this.messages.map((m) => `${m.topic} ${m.headers['ce_type']} ${m.key}`).join('\n  ');
        throw new Error(`${what}: not seen within ${timeoutMs} ms; seen:\n  ${seen}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
