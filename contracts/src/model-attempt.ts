import { IsBoolean, IsIn, IsNotEmpty, IsNumber, IsOptional, IsString, MaxLength, Min } from 'class-validator';

/** Why a model could not answer, so its fallback was tried: the codes that move a call on. */
export const FALLBACK_FAILURE_CODES = ['unavailable', 'rate_limited', 'timeout'] as const;
export type FallbackFailureCode = (typeof FALLBACK_FAILURE_CODES)[number];

/**
 * One model of a fallback chain that did not answer before the one that did (or before the call
 * failed): which model and provider, why, and how long the attempt took.
 */
export class FailedModelAttempt {
  /** Registry id of the model tried. */
  @IsString() @IsNotEmpty() @MaxLength(200) modelId!: string;
  @IsString() @IsNotEmpty() @MaxLength(100) provider!: string;
  @IsIn(FALLBACK_FAILURE_CODES) code!: FallbackFailureCode;
  /** Wall-clock milliseconds the attempt took (0 when the model was skipped without a call). */
  @IsNumber() @Min(0) latencyMs!: number;
  /** True when the model was not called: its circuit was open, or its Retry-After had not passed. */
  @IsOptional() @IsBoolean() skipped?: boolean;
  /** The provider's error, cut to 500 characters. */
  @IsOptional() @IsString() @MaxLength(500) message?: string;
}
