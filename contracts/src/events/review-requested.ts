import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, ModelUsage, Passage, RequestContext } from '../values';
import { Assessment } from '../assessment';

/** An output needs a human decision before it is released. */
export class ReviewRequested {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @IsArray() @ArrayMaxSize(100) @ValidateNested({ each: true }) @Type(() => Passage) passages!: Passage[];
  @IsString() @MaxLength(2000) reason!: string;
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(1000, { each: true })
  violations!: string[];
  /** The last output produced, if any parsed. */
  @IsOptional() @IsObject() output?: Record<string, unknown>;
  @IsString() @MaxLength(200_000) text!: string;
  @IsInt() @Min(1) attempts!: number;
  @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
  /** The validator's confidence in the output and the evidence behind it. */
  @IsOptional() @ValidateNested() @Type(() => Assessment) assessment?: Assessment;
}

export const ReviewRequestedEvent = defineEvent({
  type: 'llmbus.review.requested',
  topic: Topics.Review,
  payload: ReviewRequested,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'An output was escalated to human review.',
});
