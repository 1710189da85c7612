import { defineEvent } from '../event-definition';
import { ToolLoopState } from '../tool-loop';
import { Topics } from '../topics';

/** The model asked for tool calls: the loop's last round holds them, not yet run. */
export class ToolCallsRequested extends ToolLoopState {}

export const ToolCallsRequestedEvent = defineEvent({
  type: 'llmbus.tool-calls.requested',
  topic: Topics.ToolCalls,
  payload: ToolCallsRequested,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description:
    'A model round asked for tool calls (recorded before any runs); the generator gates and runs them.',
});
