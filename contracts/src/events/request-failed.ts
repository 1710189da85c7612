import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { LINE_MAX_LENGTH, LIST_MAX_ITEMS, MESSAGE_MAX_LENGTH, REPLY_TO_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { STAGES, Stage, Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

/** Machine-readable reasons a request can fail. */
export const FAILURE_CODES = [
  'invalid_event',
  'invalid_payload',
  'unknown_event_type',
  'unknown_workflow',
  'invalid_input',
  'oversize',
  'missing_tenant',
  'untrusted_source',
  'validation_failed',
  'review_rejected',
  'model_error',
  'rate_limited',
  'budget_exceeded',
  'processing_error',
  'approval_expired',
  'request_id_conflict',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/** A request ended without an output. `message` tells the requester what to fix. */
export class RequestFailed {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsIn(FAILURE_CODES) code!: FailureCode;
  @IsString() @MaxLength(MESSAGE_MAX_LENGTH) message!: string;
  @IsIn(STAGES) stage!: Stage;
  /** One entry per problem, e.g. a field path and what it must be. */
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  details!: string[];
  @IsOptional() @IsString() @MaxLength(REPLY_TO_MAX_LENGTH) replyTo?: string;
}

export const RequestFailedEvent = defineEvent({
  type: 'llmbus.request.failed',
  topic: Topics.Result,
  payload: RequestFailed,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A request failed; the message says what to fix.',
});
