import { describeValidationErrors, ID_MESSAGE, ID_PATTERN, Requester } from '@llmbus/contracts';
import { BadRequestException, ValidationPipe } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';

/** Body of `POST /v1/requests`. The tenant is never part of it: it comes from the API key. */
export class SubmitRequestBody {
  /** Optional idempotency key: posting the same id again does not start a second run. */
  @IsOptional() @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId?: string;
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/, { message: 'eventType must be lowercase, e.g. "ticket.created"' })
  eventType!: string;
  @IsOptional() @Matches(ID_PATTERN, { message: `workflow ${ID_MESSAGE}` }) workflow?: string;
  @IsObject({ message: 'input must be a JSON object' }) input!: Record<string, unknown>;
  @IsOptional() @ValidateNested() @Type(() => Requester) requester?: Requester;
  @IsOptional() @IsString() @MaxLength(500) replyTo?: string;
}

/** Validates request bodies; unknown fields are refused and every error names its field. */
export const submitBodyPipe = new ValidationPipe({
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
