import { REQUEST_OUTCOMES } from '@llmbus/audit';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';

// Shapes of the cost and usage endpoints as the OpenAPI document describes them; the controller
// returns the audit store's interfaces (RequestCost, UsageRow).

class UsageTotalsBody {
  @ApiProperty({ description: 'Model calls' }) calls!: number;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty({ description: 'US dollars' }) costUsd!: number;
  @ApiProperty({ description: "Sum of the calls' wall time, milliseconds" }) latencyMs!: number;
  @ApiProperty({ description: 'Longest call, milliseconds' }) maxLatencyMs!: number;
}

class RequestStepUsageBody extends UsageTotalsBody {
  @ApiProperty({ type: String, nullable: true, description: 'Stage that made the calls' })
  stage!: string | null;
  @ApiProperty({ description: 'Model registry id' }) modelId!: string;
}

class WorkflowRefBody {
  @ApiProperty() id!: string;
  @ApiProperty() version!: number;
}

/** 200 answer of `GET /v1/requests/:id/cost`. */
export class RequestCostBody {
  @ApiProperty() requestId!: string;
  @ApiPropertyOptional({ type: () => WorkflowRefBody }) workflow?: WorkflowRefBody;
  @ApiProperty({
    enum: REQUEST_OUTCOMES,
    description: 'completed (by the validator), reviewed (completed after human review), failed, in_progress',
  })
  outcome!: string;
  @ApiProperty({ format: 'date-time' }) firstEventAt!: string;
  @ApiProperty({ format: 'date-time' }) lastEventAt!: string;
  @ApiProperty({ description: 'First to last recorded event, milliseconds' }) durationMs!: number;
  @ApiProperty({ type: () => UsageTotalsBody }) totals!: UsageTotalsBody;
  @ApiProperty({ type: () => [RequestStepUsageBody], description: 'By stage and model' })
  steps!: RequestStepUsageBody[];
}

class UsageRowBody extends UsageTotalsBody {
  @ApiPropertyOptional({ format: 'date-time', description: 'Start of the time bucket (with interval)' })
  bucketStart?: string;
  @ApiProperty({ type: String, nullable: true }) workflowId!: string | null;
  @ApiProperty({ type: Number, nullable: true }) workflowVersion!: number | null;
  @ApiProperty({ type: String, nullable: true }) stage!: string | null;
  @ApiProperty() modelId!: string;
  @ApiProperty({ enum: REQUEST_OUTCOMES }) outcome!: string;
  @ApiProperty({ description: 'Distinct requests the calls belong to' }) requests!: number;
}

/** 200 answer of `GET /v1/usage`. */
export class UsageBody {
  @ApiPropertyOptional({ format: 'date-time' }) from?: string;
  @ApiPropertyOptional({ format: 'date-time' }) to?: string;
  @ApiPropertyOptional({ enum: ['hour', 'day'] }) interval?: string;
  @ApiProperty({
    type: () => [UsageRowBody],
    description: 'One row per (bucket,) workflow version, stage, model and request outcome',
  })
  rows!: UsageRowBody[];
}

/** Query of GET /v1/usage. */
export class UsageQuery {
  @ApiPropertyOptional({ format: 'date-time', description: 'Calls at or after this time' })
  @IsOptional()
  @IsISO8601({}, { message: 'from must be an ISO 8601 time, e.g. 2026-01-01T00:00:00Z' })
  from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Calls before this time' })
  @IsOptional()
  @IsISO8601({}, { message: 'to must be an ISO 8601 time, e.g. 2026-01-02T00:00:00Z' })
  to?: string;
  @ApiPropertyOptional({ enum: ['hour', 'day'], description: 'Split the rows into time buckets' })
  @IsOptional()
  @Type(() => String)
  @IsString()
  @MaxLength(4)
  @IsIn(['hour', 'day'], { message: 'interval must be hour or day' })
  interval?: 'hour' | 'day';
}
