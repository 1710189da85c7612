import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN, Passage, RequestContext } from '../values';
import { Assessment } from '../assessment';

/** The validator rejected an output and asked for another attempt with a stricter instruction. */
export class RegenerationRequested {
  @Matches(ID_PATTERN, { message: `requestId ${ID_MESSAGE}` }) requestId!: string;
  @ValidateNested() @Type(() => RequestContext) context!: RequestContext;
  @IsObject() input!: Record<string, unknown>;
  @IsArray() @ArrayMaxSize(100) @ValidateNested({ each: true }) @Type(() => Passage) passages!: Passage[];
  /** The attempt to generate next (2 for the first retry). */
  @IsInt() @Min(2) attempt!: number;
  /** What was wrong with the previous output, one line per violation. */
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(1000, { each: true })
  violations!: string[];
  /** Extra instruction appended to the prompt for this attempt. */
  @IsString() @MaxLength(4000) stricterInstruction!: string;
  /** The validator's confidence in the output and the evidence behind it. */
  @IsOptional() @ValidateNested() @Type(() => Assessment) assessment?: Assessment;
}

export const RegenerationRequestedEvent = defineEvent({
  type: 'llmbus.regeneration.requested',
  topic: Topics.Regenerate,
  payload: RegenerationRequested,
  schemaVersion: 1,
  key: (p) => p.requestId,
  description: 'Generation is to be retried with a stricter instruction.',
});
