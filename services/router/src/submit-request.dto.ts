import { describeValidationErrors, ID_MESSAGE, ID_PATTERN } from '@llmbus/contracts';
import { StorableTextValidationPipe } from '@llmbus/http-nest';
import { BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';

/**
 * Who the request is for, as a caller may state it: both fields default to the authenticated
 * principal (its id, all of its groups); `groups` may narrow them, never widen them.
 */
export class SubmitRequester {
  @ApiPropertyOptional({ maxLength: 200, description: "Defaults to the principal's id" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  userId?: string;
  @ApiPropertyOptional({
    type: [String],
    maxItems: 100,
    description: "A subset of the principal's groups; defaults to all of them",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  groups?: string[];
}

/** Body of `POST /v1/requests`. The tenant is never part of it: it comes from the credentials. */
export class SubmitRequestBody {
  /**
   * Optional idempotency key: posting the same id with the same body again does not start a second
   * run; the same id with a different body is refused (409 `request_id_conflict`).
   */
  @ApiPropertyOptional({
    pattern: ID_PATTERN.source,
    description:
      'Idempotency key: posting the same id with the same body again does not start a second run; the same id with a different body answers 409 `request_id_conflict`. A UUID by default',
  })
  @IsOptional()
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` })
  requestId?: string;
  @ApiProperty({ example: 'ticket.created', pattern: '^[a-z0-9][a-z0-9._-]{0,99}$' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'eventType must be lowercase, e.g. "ticket.created"' })
  eventType!: string;
  @ApiPropertyOptional({
    pattern: ID_PATTERN.source,
    description: 'A workflow id; by default the workflow whose trigger matches eventType',
  })
  @IsOptional()
  @Matches(ID_PATTERN, { message: `workflow ${ID_MESSAGE}` })
  workflow?: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "The workflow's input, validated against its input schema",
  })
  @IsObject({ message: 'input must be a JSON object' })
  input!: Record<string, unknown>;
  @ApiPropertyOptional({ type: () => SubmitRequester })
  @IsOptional()
  @ValidateNested()
  @Type(() => SubmitRequester)
  requester?: SubmitRequester;
  @ApiPropertyOptional({
    maxLength: 500,
    description:
      "A free-form reference echoed in the outcome's payload (RequestCompleted/RequestFailed `replyTo`) so the caller can match it to its own records; not a topic: nothing is published to it",
  })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  replyTo?: string;
}

/**
 * Validates request bodies; unknown fields and text that cannot be stored (U+0000, lone
 * surrogates, in values or keys) are refused, and every error names its field.
 */
export const submitBodyPipe = new StorableTextValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  exceptionFactory: (errors) => {
    const details = describeValidationErrors(errors);
    return new BadRequestException({
      statusCode: 400,
      error: 'invalid_request',
      message: `the request body is invalid: ${details.join('; ')}`,
      details,
    });
  },
});
