import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { ID_MESSAGE, ID_PATTERN, ModelUsage, Passage, RequestContext } from './values';

/** Pattern of a tool name (the tools lib's declaration rule). */
export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Largest result text kept in a recorded tool round, in characters (tools cap results in bytes before that). */
export const MAX_TOOL_RESULT_CHARS = 64_000;

/**
 * One call a model asked for. `callId` is derived from the request id, the round and the call's
 * position (`<requestId>.t<round>.<index>`), never from the model's reply, so a repeated round
 * names the same calls: it is the call's idempotency key (HTTP tools send it as Idempotency-Key).
 */
export class ToolCallSpec {
  @IsString() @MaxLength(200) callId!: string;
  @Matches(TOOL_NAME_PATTERN, { message: 'tool must be a tool name ([a-z][a-z0-9_]*)' }) tool!: string;
  @IsObject() arguments!: Record<string, unknown>;
  /** Why the arguments the model wrote could not be parsed (`arguments` is then `{}`); the call is refused as `invalid_arguments`. */
  @IsOptional() @IsString() @MaxLength(2000) argumentsError?: string;
}

/**
 * How a call ended: ran (`completed`, `failed`), never ran (`refused` by the gate, `rejected` by a
 * reviewer), or `outcome_unknown`: a side-effecting call started before a crash whose result was
 * never recorded, not run again; it may or may not have taken effect.
 */
export const TOOL_CALL_STATUSES = ['completed', 'failed', 'refused', 'rejected', 'outcome_unknown'] as const;
export type ToolCallStatus = (typeof TOOL_CALL_STATUSES)[number];

/** What became of one call. `content` is what the model is told (the tool's untrusted output, or why it did not run). */
export class ToolCallResult {
  @IsString() @MaxLength(200) callId!: string;
  @Matches(TOOL_NAME_PATTERN, { message: 'tool must be a tool name ([a-z][a-z0-9_]*)' }) tool!: string;
  /** The arguments the call ran with (a reviewer's edit included). */
  @IsObject() arguments!: Record<string, unknown>;
  @IsIn(TOOL_CALL_STATUSES) status!: ToolCallStatus;
  /** Refusal or error code (`not_allowlisted`, `invalid_arguments`, `timeout`, ...), when not completed. */
  @IsOptional() @IsString() @MaxLength(100) code?: string;
  @IsString() @MaxLength(MAX_TOOL_RESULT_CHARS) content!: string;
  /** `<kind>:<source>` of the tool that produced `content`. */
  @IsOptional() @IsString() @MaxLength(2000) origin?: string;
  @IsOptional() @IsBoolean() truncated?: boolean;
  /** Hex SHA-256 of the canonical `{tool, arguments}` the call ran with. */
  @IsOptional() @IsString() @MaxLength(64) callHash?: string;
  /** Who approved (or rejected) a `high` call. */
  @IsOptional() @IsString() @MaxLength(200) reviewer?: string;
  /** True when the result came from the tool result cache (a cacheable read tool, same tenant and call). */
  @IsOptional() @IsBoolean() cached?: boolean;
}

/** One model round that asked for tools: the model's words, its calls and, once run, their results. */
export class ToolRound {
  @IsInt() @Min(1) round!: number;
  /** What the model said alongside its calls (its stated reason), possibly empty. */
  @IsString() @MaxLength(8000) assistantText!: string;
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => ToolCallSpec)
  calls!: ToolCallSpec[];
  /** Results in call order; fewer than `calls` while the round waits for an approval. */
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => ToolCallResult)
  results!: ToolCallResult[];
}

/**
 * The state of one request's tool loop, carried whole by each loop event so any generator replica
 * can continue it after any restart without a store: the request, its rounds so far (the last one
 * is the current round) and the usage of every model call made so far.
 */
export class ToolLoopState {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @IsDefined() @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @IsArray() @ArrayMaxSize(100) @ValidateNested({ each: true }) @Type(() => Passage) passages!: Passage[];
  /** The generation attempt the loop belongs to (1, or a regeneration's attempt). */
  @IsInt() @Min(1) attempt!: number;
  @IsArray() @ArrayMaxSize(32) @ValidateNested({ each: true }) @Type(() => ToolRound) rounds!: ToolRound[];
  /** Usage summed over the loop's model calls so far. */
  @IsDefined() @ValidateNested() @Type(() => ModelUsage) usage!: ModelUsage;
}

/**
 * Text in a tool's result that reads as an instruction to the model or its reviewer ("call
 * restart_service now", "approve this"): the call that returned it and the sentence, quoted.
 */
export class InjectedToolInstruction {
  @IsString() @MaxLength(200) callId!: string;
  @Matches(TOOL_NAME_PATTERN, { message: 'tool must be a tool name ([a-z][a-z0-9_]*)' }) tool!: string;
  /** The sentence it was found in, at most 200 characters (as read: invisible characters removed). */
  @IsString() @MaxLength(400) excerpt!: string;
}

/** A `high` call waiting for a person: exactly what would run, why the model asked, and until when. */
export class ToolApproval {
  @IsString() @MaxLength(200) callId!: string;
  @Matches(TOOL_NAME_PATTERN, { message: 'tool must be a tool name ([a-z][a-z0-9_]*)' }) tool!: string;
  @IsObject() arguments!: Record<string, unknown>;
  /** Hex SHA-256 of the canonical `{tool, arguments}`: an approval authorises this exact call only. */
  @Matches(/^[0-9a-f]{64}$/, { message: 'callHash must be 64 lowercase hex digits' }) callHash!: string;
  /**
   * The tool's argument JSON Schema, so a reviewer's edited arguments are checked when the edit is
   * submitted (absent on approvals recorded before it was carried: the generator still checks them).
   */
  @IsOptional() @IsObject() argumentsSchema?: Record<string, unknown>;
  /**
   * The model's stated reason (its words alongside the call), or null when it gave none: never a
   * placeholder that could be read as the model's words.
   */
  @JSONSchema({ type: ['string', 'null'], maxLength: 8000 })
  @ValidateIf((approval: ToolApproval) => approval.reason !== null)
  @IsString()
  @MaxLength(8000)
  reason!: string | null;
  /** False when the model gave no reason (`reason` is then null); absent on approvals recorded before it existed. */
  @IsOptional() @IsBoolean() reasonStated?: boolean;
  /**
   * The principal who submitted the request (`context.requester.userId`: an API key's name or a
   * token's `sub`): it may not approve or edit its own call. Absent when the request named no user.
   */
  @IsOptional() @IsString() @MaxLength(200) requestedBy?: string;
  /**
   * Instructions found in the results of the loop's recorded rounds (at most 10): a warning that the
   * call may have been planted by a tool's output. The approval is required either way. Absent when
   * none was found, and on approvals recorded before the check existed.
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  @Type(() => InjectedToolInstruction)
  injectedInstructions?: InjectedToolInstruction[];
  /** ISO 8601: after this instant no decision is accepted and the request fails as `approval_expired`. */
  @IsString() @MaxLength(40) expiresAt!: string;
  /** The loop to resume once decided. */
  @IsDefined() @ValidateNested() @Type(() => ToolLoopState) loop!: ToolLoopState;
}
