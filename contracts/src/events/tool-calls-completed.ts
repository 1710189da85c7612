import { defineEvent } from '../event-definition';
import { ToolLoopState } from '../tool-loop';
import { Topics } from '../topics';

/**
 * Every call of the loop's last round has a result (ran, failed, refused or rejected). Recorded
 * before the model sees the results: the generator's next model call starts from this event.
 */
export class ToolCallsCompleted extends ToolLoopState {}

export const ToolCallsCompletedEvent = defineEvent({
  type: 'llmbus.tool-calls.completed',
  topic: Topics.ToolCalls,
  payload: ToolCallsCompleted,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'The results of a round of tool calls, recorded before the model sees them.',
});
