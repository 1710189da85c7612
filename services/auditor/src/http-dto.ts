import { REVIEW_DECISIONS } from '@llmbus/contracts';
import { MAX_PAGE_SIZE } from '@llmbus/audit';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsISO8601,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';

/** Body of POST /v1/reviews/:requestId/decision. */
export class ReviewDecisionBody {
  @ApiProperty({ enum: REVIEW_DECISIONS })
  @IsIn(REVIEW_DECISIONS, { message: `decision must be one of ${REVIEW_DECISIONS.join(', ')}` })
  decision!: (typeof REVIEW_DECISIONS)[number];

  /** The output to release; required with `edit`, refused otherwise. */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Output reviews only: the output to release, validated against the workflow output schema; required with `edit`, refused otherwise',
  })
  @ValidateIf((body: ReviewDecisionBody) => body.output !== undefined)
  @IsObject({ message: 'output must be a JSON object' })
  output?: Record<string, unknown>;

  /** Tool approvals: the arguments to run the call with instead; required with `edit`, refused otherwise. */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Tool approvals only: the arguments to run the call with instead, checked against the tool schema on submission (400 `invalid_arguments` naming each field; the approval stays pending) and again by the generator; required with `edit` on a tool approval',
  })
  @IsOptional()
  @IsObject({ message: 'arguments must be a JSON object' })
  arguments?: Record<string, unknown>;

  /**
   * Tool approvals: the `callHash` of the call the reviewer saw (from GET /v1/reviews); required
   * with `approve` and `edit`, so a decision taken on a stale screen never applies to another call.
   */
  @ApiPropertyOptional({
    pattern: '^[0-9a-f]{64}$',
    description:
      'Tool approvals only: the callHash of the call shown to the reviewer (GET /v1/reviews); required with `approve` and `edit`, and when given with `reject` it must match too; another pending call answers 409',
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{64}$/, {
    message: 'callHash must be the 64 hex digits GET /v1/reviews shows for the call',
  })
  callHash?: string;

  @ApiPropertyOptional({ maxLength: 4000 }) @IsOptional() @IsString() @MaxLength(4000) comment?: string;
}

/** Query of GET /v1/requests. */
export class ListRequestsQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;
  @ApiPropertyOptional({ maxLength: 100, description: "The previous page's nextCursor" })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  cursor?: string;
}

/** Query of GET /v1/costs. */
export class CostsQuery {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({}, { message: 'since must be an ISO 8601 time, e.g. 2026-01-01T00:00:00Z' })
  since?: string;
}

/** Query of GET /v1/dead-letters. */
export class DeadLettersQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;
}
