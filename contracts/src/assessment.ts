import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { LINE_MAX_LENGTH, NAME_MAX_LENGTH } from './limits';

/** The signals the validator combines into a confidence (see libs/workflows `assessConfidence`). */
export const CONFIDENCE_SIGNALS = [
  'schema',
  'rules',
  'grounding',
  'quotes',
  'retrieval',
  'selfReport',
  'verifier',
] as const;
export type ConfidenceSignal = (typeof CONFIDENCE_SIGNALS)[number];

/** One signal's score (0 to 1) and the weight it had in the confidence (0 when it only gates or did not apply). */
export class SignalScore {
  @IsIn(CONFIDENCE_SIGNALS) name!: ConfidenceSignal;
  @IsNumber() @Min(0) @Max(1) score!: number;
  @IsNumber() @Min(0) @Max(1) weight!: number;
}

/** How well one claim sentence of a free-text output field is supported by the passages it cites. */
export class SentenceSupport {
  /** Output path of the field, e.g. `output.reply`. */
  @IsString() @MaxLength(NAME_MAX_LENGTH) field!: string;
  @IsString() @MaxLength(LINE_MAX_LENGTH) sentence!: string;
  /** Share (0 to 1) of the sentence's content words found in the cited passages. */
  @IsNumber() @Min(0) @Max(1) support!: number;
}

/**
 * The verifier model's verdict on one claim: `supported` (a passage states it), `contradicted`
 * (a passage states otherwise), `unsupported` (no passage states it), or `unverified` (the
 * verifier failed: timeout, model error, invalid answer; never taken as supported).
 */
export const CLAIM_VERDICTS = ['supported', 'unsupported', 'contradicted', 'unverified'] as const;
export type ClaimVerdictValue = (typeof CLAIM_VERDICTS)[number];

/** One claim sentence of the output as the verifier model judged it. */
export class ClaimVerdict {
  /** Output path of the field, e.g. `output.reply`. */
  @IsString() @MaxLength(NAME_MAX_LENGTH) field!: string;
  @IsString() @MaxLength(LINE_MAX_LENGTH) claim!: string;
  @IsIn(CLAIM_VERDICTS) verdict!: ClaimVerdictValue;
  /** The passage the verdict rests on (supported or contradicted). */
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) passageId?: string;
}

/** The evidence behind the validator's confidence in one generation, kept for the audit trail. */
export class Assessment {
  @IsNumber() @Min(0) @Max(1) confidence!: number;
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => SignalScore)
  signals!: SignalScore[];
  @IsArray()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => SentenceSupport)
  sentences!: SentenceSupport[];
  /** Quoted clause numbers, amounts and dates the cited passages do not contain, one line each. */
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  unsupportedClaims!: string[];
  /** Per claim, the verifier model's verdict (workflows with `verify.model`). */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => ClaimVerdict)
  verdicts?: ClaimVerdict[];
}
