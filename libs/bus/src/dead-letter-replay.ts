import { randomBytes } from 'node:crypto';
import { DeadLettered, DeadLetteredEvent, FailureCode, Stage } from '@llmbus/contracts';
import type { EventBus } from './event-bus';

export interface ReplayFilter {
  /** Only records with one of these reason codes (all when omitted). */
  readonly reasonCodes?: readonly FailureCode[];
  /** Only records of this request or document. */
  readonly correlationId?: string;
}

export interface ReplayReport {
  /** Dead-letter records read. */
  readonly scanned: number;
  /** Records republished to their original topic. */
  readonly replayed: number;
  /** Matching records that cannot be replayed because only a truncated or sanitised copy was kept. */
  readonly truncated: number;
}

/**
 * Republishes a stage's dead-lettered messages, as they were received (key, headers, value), to
 * the topic they came from, so they are processed again once the cause is fixed. Reads the
 * dead-letter topic from the start in a throwaway consumer group and stops at its end. Replayed
 * events keep their ids: consumers that did handle one will drop it as a duplicate.
 */
export async function replayDeadLetters(
  bus: EventBus,
  stage: Stage,
  filter: ReplayFilter = {},
  timeoutMs = 60_000,
): Promise<ReplayReport> {
  const topic = bus.physicalTopic(bus.deadLetterTopic(stage).name);
  const groupId = `${bus.topicPrefix}llmbus.replay.${stage}.${randomBytes(4).toString('hex')}`;
  let scanned = 0;
  let replayed = 0;
  let truncated = 0;
  const subscription = await bus.subscribe({
    stage,
    groupId,
    notifyRequester: false,
    handlers: {
      [DeadLetteredEvent.type]: async (event) => {
        scanned += 1;
        const record = event.data as DeadLettered;
        if (filter.reasonCodes && !filter.reasonCodes.includes(record.reasonCode)) return [];
        if (filter.correlationId && record.correlationId !== filter.correlationId) return [];
        if (record.originalValueTruncated || record.originalSanitised) {
          truncated += 1;
          return [];
        }
        await bus.transport.produce([
          {
            topic: record.originalTopic,
            key: record.originalKey ?? '',
            headers: record.originalHeaders,
            value: record.originalValue,
          },
        ]);
        replayed += 1;
        return [];
      },
    },
  });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lag = await bus.transport.lag(groupId, [topic]);
      if (lag.every((p) => p.lag === 0)) break;
      if (Date.now() > deadline)
        throw new Error(`replay of ${topic} did not reach its end within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await subscription.close();
  }
  return { scanned, replayed, truncated };
}
