import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { LIST_MAX_ITEMS, REPLY_TO_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, ModelUsage, WorkflowRef } from '../values';
import { Assessment } from '../assessment';

/** A request finished with a validated (or human-approved) output. */
export class RequestCompleted {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsDefined() @ValidateNested() @Type(() => WorkflowRef) workflow!: WorkflowRef;
  @IsObject() output!: Record<string, unknown>;
  /** Ids of the passages the output cites; each was retrieved for this request. */
  @IsArray() @ArrayMaxSize(LIST_MAX_ITEMS) @IsString({ each: true }) citations!: string[];
  @IsInt() @Min(1) attempts!: number;
  /** Who accepted the output: the validator's checks or a human reviewer. */
  @IsIn(['validator', 'reviewer']) acceptedBy!: 'validator' | 'reviewer';
  /** Usage of the accepted generation. */
  @IsDefined() @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
  /** The validator's confidence in the output and the evidence behind it. */
  @IsOptional() @ValidateNested() @Type(() => Assessment) assessment?: Assessment;
  @IsOptional() @IsString() @MaxLength(REPLY_TO_MAX_LENGTH) replyTo?: string;
}

export const RequestCompletedEvent = defineEvent({
  type: 'llmbus.request.completed',
  topic: Topics.Result,
  payload: RequestCompleted,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A request completed; the output is final.',
});
