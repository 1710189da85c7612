import type { UnfinishedRequest } from '@llmbus/audit';
import { outgoing, type EventBus } from '@llmbus/bus';
import {
  ContextRetrievedEvent,
  RegenerationRequestedEvent,
  RequestFailedEvent,
  RequestRoutedEvent,
  ResponseGeneratedEvent,
  ReviewDecidedEvent,
  ToolCallsCompletedEvent,
  ToolCallsRequestedEvent,
  type Stage,
} from '@llmbus/contracts';
import type { Logger } from '@llmbus/observability';

/** The stage that takes up an event of each type on a request's way (the router takes a submission). */
const NEXT_STAGE: Readonly<Record<string, Stage>> = {
  [RequestRoutedEvent.type]: 'retriever',
  [ContextRetrievedEvent.type]: 'generator',
  [RegenerationRequestedEvent.type]: 'generator',
  [ToolCallsRequestedEvent.type]: 'generator',
  [ToolCallsCompletedEvent.type]: 'generator',
  [ResponseGeneratedEvent.type]: 'validator',
  [ReviewDecidedEvent.type]: 'validator',
};

/** Most requests one start fails; more are left for the next start (each start fails its share). */
export const INTERRUPTED_LIMIT = 10_000;

/**
 * Ends the requests an earlier run of the embedded process accepted but did not finish. Its bus
 * lived in the process, so nothing takes them up again: without an outcome their status answered
 * `routed` (or whatever stage they had reached) for ever, and a long poll waited in vain. Each gets a
 * RequestFailed (`processing_error`, saying to submit it again) caused by its last recorded event, so
 * its id is the same on every start until the auditor has recorded it. `unfinished` must be read
 * before the ingress accepts anything (a request of this run is not interrupted); the stages must be
 * running, so the auditor records the failures. Resolves with how many were failed.
 */
export async function failInterruptedRequests(
  bus: EventBus,
  unfinished: readonly UnfinishedRequest[],
  logger: Logger,
): Promise<number> {
  for (const { requestId, lastEvent } of unfinished) {
    const envelope = lastEvent.envelope;
    const stage = NEXT_STAGE[envelope.type] ?? 'router';
    await bus.publish(
      [
        outgoing(RequestFailedEvent, {
          requestId,
          code: 'processing_error',
          message:
            'llmbus stopped before this request finished; in embedded mode a request in flight is not resumed ' +
            'after a restart: submit it again',
          stage,
          details: [`last recorded event: ${envelope.type} at ${envelope.time}`],
        }),
      ],
      { envelope, stage },
    );
  }
  if (unfinished.length > 0) {
    logger.warn(
      { requests: unfinished.length, requestIds: unfinished.slice(0, 20).map((u) => u.requestId) },
      `${unfinished.length} request(s) accepted by an earlier run were not finished: failed them (submit them again)`,
    );
  }
  return unfinished.length;
}
