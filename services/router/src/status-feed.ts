import type { StageHandlers } from '@llmbus/bus';
import {
  RequestCompleted,
  RequestCompletedEvent,
  RequestFailed,
  RequestFailedEvent,
  RequestRouted,
  RequestRoutedEvent,
  ReviewRequested,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import type { RequestStatusStore } from './request-status.store';

/**
 * Handlers that keep one replica's status projection current. Each replica consumes them in a
 * consumer group of its own, so every replica sees every request's progress and any replica can
 * answer `GET /v1/requests/:id`, whichever partition the request's events are on.
 */
export function statusFeedHandlers(statuses: RequestStatusStore): StageHandlers {
  return {
    [RequestRoutedEvent.type]: async (event) => {
      const { requestId, context } = event.data as RequestRouted;
      statuses.record(event.tenantid, requestId, { status: 'routed', workflow: context.workflow });
      return [];
    },
    [RequestCompletedEvent.type]: async (event) => {
      const { requestId, workflow, output, citations, acceptedBy } = event.data as RequestCompleted;
      statuses.record(event.tenantid, requestId, {
        status: 'completed',
        workflow,
        output,
        citations,
        acceptedBy,
      });
      return [];
    },
    [RequestFailedEvent.type]: async (event) => {
      const { requestId, code, message, stage, details } = event.data as RequestFailed;
      statuses.record(event.tenantid, requestId, {
        status: 'failed',
        failure: { code, message, stage, details },
      });
      return [];
    },
    [ReviewRequestedEvent.type]: async (event) => {
      const { requestId, context, reason } = event.data as ReviewRequested;
      statuses.record(event.tenantid, requestId, {
        status: 'review',
        workflow: context.workflow,
        reviewReason: reason,
      });
      return [];
    },
  };
}
