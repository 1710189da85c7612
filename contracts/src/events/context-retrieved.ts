import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsNumber, IsOptional, Max, Min, ValidateNested } from 'class-validator';

import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ModelUsage, CarriedRequest } from '../values';

/** Passages retrieved for a request, already filtered by tenant and the requester's groups. */
export class ContextRetrieved extends CarriedRequest {
  /** Relevant passages the requester may not read: a count only, never their content. */
  @IsInt() @Min(0) withheldCount!: number;
  /**
   * How likely the passages answer the question, 0 to 1 (calibrated on the retrieval eval; see the
   * README). Absent from retrievers that predate it.
   */
  @IsOptional() @IsNumber() @Min(0) @Max(1) relevance?: number;
  /** False: nothing readable answers the question; the generator, validator and workflows should abstain ("not found"). */
  @IsOptional() @IsBoolean() answerable?: boolean;
  @IsOptional() @ValidateNested() @Type(() => ModelUsage) usage?: ModelUsage;
}

export const ContextRetrievedEvent = defineEvent({
  type: 'llmbus.context.retrieved',
  topic: Topics.Retrieved,
  payload: ContextRetrieved,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'Context passages were retrieved for a request.',
});
