import { Type } from 'class-transformer';
import { IsDefined, IsIn, IsInt, IsOptional, IsUUID, Matches, Min, ValidateNested } from 'class-validator';
import { defineEvent } from '../event-definition';
import { STAGES, Stage, Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, ModelUsage, WorkflowRef } from '../values';

/**
 * A billed model call, one event per call. Its id is the call's own (not derived from the input),
 * so a call made again for a redelivered input is recorded, and counted in costs, again.
 */
export class ModelCallRecorded {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  /** Unique per call (UUID); also the event id, and `callId` of the output the call produced. */
  @IsUUID() callId!: string;
  /** The stage that made the call. */
  @IsIn(STAGES) stage!: Stage;
  /** Generation attempt the call belongs to (1, then one more per regeneration). */
  @IsInt() @Min(1) attempt!: number;
  @IsDefined() @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
  /** The workflow the request runs, for cost accounting per workflow version (absent in older records). */
  @IsOptional() @ValidateNested() @Type(() => WorkflowRef) workflow?: WorkflowRef;
}

export const ModelCallRecordedEvent = defineEvent({
  type: 'llmbus.model.call-recorded',
  topic: Topics.ModelCalls,
  payload: ModelCallRecorded,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description:
    'A model call was made and billed; one event per call, calls repeated by redeliveries included.',
});
