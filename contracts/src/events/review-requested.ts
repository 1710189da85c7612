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
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { LINE_MAX_LENGTH, MESSAGE_MAX_LENGTH, MODEL_TEXT_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ModelUsage, CarriedRequest } from '../values';
import { Assessment } from '../assessment';
import { ToolApproval } from '../tool-loop';

/** `output`: a generated output needs a decision; `tool-approval`: a `high` tool call waits for one. */
export const REVIEW_KINDS = ['output', 'tool-approval'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

/**
 * A human decision is needed: on an output before it is released (`kind` absent or `output`), or
 * on a `high` tool call before it runs (`kind: tool-approval`, with `toolApproval`; `text` then
 * describes the call, `reason` is the model's stated reason, `usage` is the loop's so far).
 */
export class ReviewRequested extends CarriedRequest {
  /** Absent on reviews recorded before tool approvals existed: those are `output` reviews. */
  @IsOptional() @IsIn(REVIEW_KINDS) kind?: ReviewKind;
  @IsString() @MaxLength(MESSAGE_MAX_LENGTH) reason!: string;
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  violations!: string[];
  /** The last output produced, if any parsed. */
  @IsOptional() @IsObject() output?: Record<string, unknown>;
  @IsString() @MaxLength(MODEL_TEXT_MAX_LENGTH) text!: string;
  @IsInt() @Min(1) attempts!: number;
  @IsDefined() @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
  /** The validator's confidence in the output and the evidence behind it. */
  @IsOptional() @ValidateNested() @Type(() => Assessment) assessment?: Assessment;
  /** The call to approve and the loop to resume, when `kind` is `tool-approval`. */
  @IsOptional() @ValidateNested() @Type(() => ToolApproval) toolApproval?: ToolApproval;
}

export const ReviewRequestedEvent = defineEvent({
  type: 'llmbus.review.requested',
  topic: Topics.Review,
  payload: ReviewRequested,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'An output was escalated to human review, or a high-risk tool call waits for approval.',
});
