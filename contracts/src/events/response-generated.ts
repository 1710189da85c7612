import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBase64,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MODEL_TEXT_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, ModelUsage, CarriedRequest } from '../values';
import { InjectedToolInstruction } from '../tool-loop';

export class PromptRef {
  @Matches(ID_PATTERN, { message: `prompt template id ${ID_MESSAGE}` }) id!: string;
  @IsInt() @Min(1) version!: number;
}

/**
 * The placeholder mapping of a masked prompt (`<PERSON_1>` → the value), encrypted with AES-256-GCM
 * under LLMBUS_PII_KEY with the request id as additional data, so only stages holding the key can
 * restore the values. Fields are base64.
 */
export class SealedPiiVault {
  @IsIn(['A256GCM']) alg!: 'A256GCM';
  @IsBase64() @MaxLength(32) iv!: string;
  @IsBase64() @MaxLength(32) tag!: string;
  @IsBase64() @MaxLength(400_000) data!: string;
}

/** A model produced an output for a request (not yet validated). */
export class ResponseGenerated extends CarriedRequest {
  /** 1 for the first generation, incremented by each regeneration. */
  @IsInt() @Min(1) attempt!: number;
  @IsDefined() @ValidateNested() @Type(() => PromptRef) prompt!: PromptRef;
  /** The exact prompt sent to the model, kept for the audit trail. */
  @IsString() @MaxLength(MODEL_TEXT_MAX_LENGTH) renderedPrompt!: string;
  /** Raw model text. */
  @IsString() @MaxLength(MODEL_TEXT_MAX_LENGTH) text!: string;
  /** Parsed structured output when the text is JSON; validation happens in the validator. */
  @IsOptional() @IsObject() output?: Record<string, unknown>;
  @IsDefined() @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
  /**
   * Present when the prompt was masked for a model not trusted with PII: `text`, `output` and
   * `renderedPrompt` hold placeholders, and the validator restores the values from this mapping.
   */
  @IsOptional() @ValidateNested() @Type(() => SealedPiiVault) piiVault?: SealedPiiVault;
  /**
   * The model call that produced this output; its ModelCallRecorded event (same callId) is the
   * billing record, so this event's usage restates it. Absent on events from before it existed.
   */
  @IsOptional() @IsUUID() callId?: string;
  /**
   * Instructions found in the results of the tool rounds behind this output (at most 10), for the
   * validator: workflows with `validation.reviewInjectedInstructions` send the output to review.
   * Absent when the loop ran no tools or none was found.
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => InjectedToolInstruction)
  injectedInstructions?: InjectedToolInstruction[];
}

export const ResponseGeneratedEvent = defineEvent({
  type: 'llmbus.response.generated',
  topic: Topics.Generated,
  payload: ResponseGenerated,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'A model output was generated for a request.',
});
