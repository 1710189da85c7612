import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

/**
 * The model's output so far, while it is being written, for `GET /v1/requests/:id/stream`. Each
 * event carries the whole draft (it replaces the previous one), so the workflow's personal-data
 * policy for outputs is applied to whole entities, never to halves split across pieces. Drafts
 * are not validated, not audited and not the request's outcome (RequestCompleted is). Published
 * only for workflows with `output.stream: true`.
 */
export class ResponseDraft {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  /** Generation attempt the draft belongs to: a regeneration starts a new draft. */
  @IsInt() @Min(1) @Max(100) attempt!: number;
  /** Order of this draft within its attempt, from 0; a reader keeps the highest it has seen. */
  @IsInt() @Min(0) seq!: number;
  /** The whole draft so far (raw JSON text for structured outputs), personal data handled per the outputs policy. */
  @IsString() @MaxLength(64_000) text!: string;
  /** True on the attempt's last draft. */
  @IsOptional() @IsBoolean() done?: boolean;
}

export const ResponseDraftEvent = defineEvent({
  type: 'llmbus.response.draft',
  topic: Topics.Stream,
  payload: ResponseDraft,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description:
    'The output so far while the model writes (streaming), for the HTTP stream endpoint; not audited.',
});
