import { REVIEW_DECISIONS } from '@llmbus/contracts';
import { MAX_PAGE_SIZE } from '@llmbus/audit';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';

/** Body of POST /v1/reviews/:requestId/decision. */
export class ReviewDecisionBody {
  @IsIn(REVIEW_DECISIONS, { message: `decision must be one of ${REVIEW_DECISIONS.join(', ')}` })
  decision!: (typeof REVIEW_DECISIONS)[number];

  /** The output to release; required with `edit`, refused otherwise. */
  @ValidateIf((body: ReviewDecisionBody) => body.decision === 'edit' || body.output !== undefined)
  @IsObject({ message: 'output must be a JSON object (required when decision is "edit")' })
  output?: Record<string, unknown>;

  @IsOptional() @IsString() @MaxLength(4000) comment?: string;
}

/** Query of GET /v1/requests. */
export class ListRequestsQuery {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(MAX_PAGE_SIZE) limit?: number;
  @IsOptional() @IsString() @MaxLength(100) cursor?: string;
}

/** Query of GET /v1/costs. */
export class CostsQuery {
  @IsOptional()
  @IsISO8601({}, { message: 'since must be an ISO 8601 time, e.g. 2026-01-01T00:00:00Z' })
  since?: string;
}
