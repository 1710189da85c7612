import { Type } from 'class-transformer';
import { IsObject, Matches, ValidateNested } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, RequestContext, RetrievalPlan } from '../values';

/** The router chose the workflow, model tier, budget and retrieval plan. */
export class RequestRouted {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @ValidateNested() @Type(() => RetrievalPlan) retrieval!: RetrievalPlan;
}

export const RequestRoutedEvent = defineEvent({
  type: 'llmbus.request.routed',
  topic: Topics.Routed,
  payload: RequestRouted,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A request was matched to a workflow version, model tier and budget.',
});
