import { Type } from 'class-transformer';
import {
  IsDefined,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { NAME_MAX_LENGTH, NOTE_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';
import { ReviewRequested } from './review-requested';

export const REVIEW_DECISIONS = ['approve', 'reject', 'edit'] as const;

/** A human reviewer decided on an escalated output. */
export class ReviewDecided {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsString() @MaxLength(NAME_MAX_LENGTH) reviewer!: string;
  @IsIn(REVIEW_DECISIONS) decision!: (typeof REVIEW_DECISIONS)[number];
  /** Tool approvals, decision `edit`: the arguments to run the call with instead (re-validated against the tool's schema). */
  @IsOptional() @IsObject() arguments?: Record<string, unknown>;
  /** Output reviews: the output to release when the decision is `edit`. */
  @IsOptional() @IsObject() output?: Record<string, unknown>;
  @IsOptional() @IsString() @MaxLength(NOTE_MAX_LENGTH) comment?: string;
  /**
   * The review being decided, as the audit trail recorded it. The decision carries everything
   * needed to apply it, so no stage has to remember open reviews (and a restart forgets none).
   */
  @IsDefined() @ValidateNested() @Type(() => ReviewRequested) review!: ReviewRequested;
}

export const ReviewDecidedEvent = defineEvent({
  type: 'llmbus.review.decided',
  topic: Topics.ReviewDecision,
  payload: ReviewDecided,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A human reviewer approved, edited or rejected an output.',
});
