import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { FailedModelAttempt } from './model-attempt';
import {
  LINE_MAX_LENGTH,
  LIST_MAX_ITEMS,
  NAME_MAX_LENGTH,
  PASSAGE_TEXT_MAX_LENGTH,
  QUERY_MAX_LENGTH,
  REPLY_TO_MAX_LENGTH,
  SHORT_NAME_MAX_LENGTH,
  TITLE_MAX_LENGTH,
  URI_MAX_LENGTH,
} from './limits';

/** Value objects shared by several event payloads. */

/**
 * A day that exists, `YYYY-MM-DD`: each month's own length, February 29 in leap years only (every
 * 4th year, but not centuries unless divisible by 400). A pattern rather than a date check, so a
 * contract's JSON Schema refuses 2023-02-31 exactly as the decorators do.
 */
export const CALENDAR_DAY =
  /^(?:\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))|(?:\d{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)$/;

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const ID_MESSAGE =
  'must be 1-128 characters: letters, digits, ".", "_", ":" or "-", starting with a letter or digit';

export class WorkflowRef {
  @Matches(ID_PATTERN, { message: `workflow id ${ID_MESSAGE}` }) id!: string;
  @IsInt() @Min(1) version!: number;
}

/** Who asked: drives permission filters in retrieval. */
export class Requester {
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) userId?: string;
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @IsString({ each: true })
  @MaxLength(NAME_MAX_LENGTH, { each: true })
  groups!: string[];
}

export const MODEL_TIERS = ['small', 'large'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

export class Budget {
  @IsInt() @Min(1) @Max(1_000_000) maxOutputTokens!: number;
  @IsNumber() @Min(0) maxCostUsd!: number;
}

/** Accounting for one model call (or a batch of embedding calls). */
export class ModelUsage {
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) modelId!: string;
  @IsString() @IsNotEmpty() @MaxLength(SHORT_NAME_MAX_LENGTH) provider!: string;
  @IsInt() @Min(0) promptTokens!: number;
  @IsInt() @Min(0) completionTokens!: number;
  /** US dollars. */
  @IsNumber() @Min(0) costUsd!: number;
  /** Wall-clock milliseconds of the call. */
  @IsNumber() @Min(0) latencyMs!: number;
  /** True when the answer came from the tenant-scoped response cache: no tokens were billed. */
  @IsOptional() @IsBoolean() cached?: boolean;
  /** On a cache hit: US dollars the original call cost, which this one did not. */
  @IsOptional() @IsNumber() @Min(0) costSavedUsd?: number;
  /** Models of the fallback chain that failed before `modelId` answered, in the order tried. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => FailedModelAttempt)
  fallbackAttempts?: FailedModelAttempt[];
}

/** A retrieved chunk with the metadata needed to cite it. */
export class Passage {
  /** Stable chunk id; citations in outputs refer to it. */
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) id!: string;
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) documentId!: string;
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) collection!: string;
  @IsString() @MaxLength(TITLE_MAX_LENGTH) title!: string;
  @IsString() @MaxLength(URI_MAX_LENGTH) sourceUri!: string;
  @IsInt() @Min(0) chunkIndex!: number;
  @IsString() @MaxLength(PASSAGE_TEXT_MAX_LENGTH) text!: string;
  @IsNumber() score!: number;
  /** Headings leading to the chunk, joined with " > " (e.g. "Handbook > Annual leave"), for citations. */
  @IsOptional() @IsString() @MaxLength(LINE_MAX_LENGTH) sectionPath?: string;
  /**
   * Day from which the passage's document applies (ISO 8601 date, as submitted); absent: always.
   * A later day than the retrieval's is a replacement announced but not yet in effect.
   */
  @IsOptional()
  @Matches(CALENDAR_DAY, { message: 'effectiveDate must be an ISO 8601 date, YYYY-MM-DD' })
  effectiveDate?: string;
  /** The publisher's version label of the passage's document ("2023.1", "FY2025"), as submitted. */
  @IsOptional() @IsString() @MaxLength(SHORT_NAME_MAX_LENGTH) versionLabel?: string;
}

export const REQUEST_STATUSES = ['completed', 'failed', 'review'] as const;

/** How much a collection's passages count when lists from several collections are fused. */
export class CollectionWeight {
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) collection!: string;
  /** Multiplies the collection's fused score; 1 is neutral, 0 keeps the collection last. */
  @IsNumber() @Min(0) @Max(10) weight!: number;
}

/**
 * A document the request gives by reference: the retriever reads `documentId` in the request's
 * tenant with the requester's groups and puts its text into the input field `into`.
 */
export class DocumentReference {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  /** An input field name (no `input.` prefix), e.g. `contract`. */
  @Matches(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'into must be an input field name' }) into!: string;
  /** Logical collections the document must be in; any when absent. */
  @IsOptional() @IsArray() @ArrayMaxSize(20) @IsString({ each: true }) collections?: string[];
  /** Longest document text accepted, in characters. */
  @IsInt() @Min(1) @Max(1_000_000) maxChars!: number;
}

export class RetrievalPlan {
  @IsArray() @ArrayMaxSize(20) @IsString({ each: true }) collections!: string[];
  @IsInt() @Min(0) @Max(50) topK!: number;
  @IsString() @MaxLength(QUERY_MAX_LENGTH) query!: string;
  /** Source priorities; collections not listed weigh 1. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => CollectionWeight)
  collectionWeights?: CollectionWeight[];
  /** A document given by reference, read by the retriever into the input before generation. */
  @IsOptional() @ValidateNested() @Type(() => DocumentReference) document?: DocumentReference;
}

/** How the router's classifier step decided: nearest labelled examples in embedding space, or a model call. */
export const CLASSIFICATION_METHODS = ['knn', 'model'] as const;
export type ClassificationMethod = (typeof CLASSIFICATION_METHODS)[number];

/** The label the workflow's classifier gave a request (`unknown` below the workflow's minimum score). */
export class Classification {
  @IsString() @IsNotEmpty() @MaxLength(NAME_MAX_LENGTH) label!: string;
  /** 0 to 1; for `knn` the similarity-weighted vote of the label among the k nearest examples. */
  @IsNumber() @Min(0) @Max(1) score!: number;
  @IsIn(CLASSIFICATION_METHODS) method!: ClassificationMethod;
  /** The best label found when `label` is `unknown` because its score was below the minimum. */
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) nearest?: string;
}

/** Workflow state carried from stage to stage, so no stage needs to look anything up. */
export class RequestContext {
  @IsDefined() @ValidateNested() @Type(() => WorkflowRef) workflow!: WorkflowRef;
  @IsDefined() @ValidateNested() @Type(() => Requester) requester!: Requester;
  @IsIn(MODEL_TIERS) modelTier!: ModelTier;
  @IsDefined() @ValidateNested() @Type(() => Budget) budget!: Budget;
  /** The requester's reference from RequestSubmitted, echoed on the result. */
  @IsOptional() @IsString() @MaxLength(REPLY_TO_MAX_LENGTH) replyTo?: string;
  /** Set by the router when the workflow declares a `classify:` step. */
  @IsOptional() @ValidateNested() @Type(() => Classification) classification?: Classification;
}

/**
 * What every event after retrieval carries about its request, so each stage works from the event
 * alone: the request id, the routed context, the workflow input and the passages retrieved for it
 * (already filtered to what the requester may read).
 */
export class CarriedRequest {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsDefined() @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => Passage)
  passages!: Passage[];
}
