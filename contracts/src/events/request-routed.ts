import { Type } from 'class-transformer';
import { IsDefined, IsObject, IsOptional, Matches, ValidateNested } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, RequestContext, RetrievalPlan } from '../values';

/** The router chose the workflow, model tier, budget and retrieval plan. */
export class RequestRouted {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsDefined() @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @IsDefined() @ValidateNested() @Type(() => RetrievalPlan) retrieval!: RetrievalPlan;
  /**
   * Hex SHA-256 of the routed RequestSubmitted payload's RFC 8785 canonical JSON, its own
   * `submissionDigest` left out: how a router replica tells a re-sent request (same id, same body,
   * a new event id) from another request reusing the id, once the auditor has recorded this event.
   */
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, { message: 'submissionDigest must be 64 lowercase hex digits' })
  submissionDigest?: string;
}

export const RequestRoutedEvent = defineEvent({
  type: 'llmbus.request.routed',
  topic: Topics.Routed,
  payload: RequestRouted,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A request was matched to a workflow version, model tier and budget.',
});
