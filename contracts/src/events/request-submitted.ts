import { Type } from 'class-transformer';
import {
  IsDefined,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { REPLY_TO_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, Requester } from '../values';

/** An upstream system asks for a workflow run. */
export class RequestSubmitted {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  /** Upstream event type the routing rules match on, e.g. `ticket.created`. */
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'eventType must be lowercase, e.g. "ticket.created"' })
  eventType!: string;
  /** Explicit workflow id; when absent the router's rules choose. */
  @IsOptional() @Matches(ID_PATTERN, { message: `workflow ${ID_MESSAGE}` }) workflow?: string;
  /** Workflow input (ticket fields, question, alert...); validated by the router against the workflow. */
  @IsObject() input!: Record<string, unknown>;
  @IsDefined() @ValidateNested() @Type(() => Requester) requester!: Requester;
  /** Free-form reference the upstream system wants echoed on the result. */
  @IsOptional() @IsString() @MaxLength(REPLY_TO_MAX_LENGTH) replyTo?: string;
  /**
   * Hex SHA-256 of the submitted body's RFC 8785 canonical JSON (canonicalDigest), set by the
   * HTTP ingress: a later POST with the same requestId and another body is refused with 409
   * `request_id_conflict` by any router replica that reads it back from the audit trail.
   */
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'submissionDigest must be 64 lowercase hex digits' })
  submissionDigest?: string;
}

export const RequestSubmittedEvent = defineEvent({
  type: 'llmbus.request.submitted',
  topic: Topics.Request,
  payload: RequestSubmitted,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A workflow run was requested.',
});
