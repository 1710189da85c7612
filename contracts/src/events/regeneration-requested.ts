import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { LINE_MAX_LENGTH, NOTE_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { CarriedRequest } from '../values';
import { Assessment } from '../assessment';

/** The validator rejected an output and asked for another attempt with a stricter instruction. */
export class RegenerationRequested extends CarriedRequest {
  /** The attempt to generate next (2 for the first retry). */
  @IsInt() @Min(2) attempt!: number;
  /** What was wrong with the previous output, one line per violation. */
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  violations!: string[];
  /** Extra instruction appended to the prompt for this attempt. */
  @IsString() @MaxLength(NOTE_MAX_LENGTH) stricterInstruction!: string;
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
