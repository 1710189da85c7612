import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
} from 'class-validator';
import { LINE_MAX_LENGTH, LIST_MAX_ITEMS, MESSAGE_MAX_LENGTH, NAME_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { DeadLetterTopics, STAGES, Stage } from '../topics';
import { FAILURE_CODES, FailureCode } from './request-failed';

/**
 * A consumed message that a stage could not process. Published on the stage's own dead-letter
 * topic (the definition's `topic` is the router's; publishers pass the stage's topic explicitly).
 */
export class DeadLettered {
  @IsIn(STAGES) stage!: Stage;
  @IsString() @MaxLength(300) consumerGroup!: string;
  @IsString() @MaxLength(300) originalTopic!: string;
  @IsInt() @Min(0) originalPartition!: number;
  @IsString() @MaxLength(30) originalOffset!: string;
  @IsOptional() @IsString() @MaxLength(LINE_MAX_LENGTH) originalKey?: string;
  @IsObject() originalHeaders!: Record<string, string>;
  /** The message value as received (UTF-8), cut to 64 KiB; `originalValueTruncated` says if it was cut. */
  @IsString() @MaxLength(70_000) originalValue!: string;
  @IsOptional() originalValueTruncated?: boolean;
  /**
   * True when U+0000 (or a lone surrogate) in the kept value, key or headers was replaced with
   * U+FFFD so the record can be stored; like a truncated copy, it cannot be replayed as received.
   */
  @IsOptional() @IsBoolean() originalSanitised?: boolean;
  @IsIn(FAILURE_CODES) reasonCode!: FailureCode;
  @IsString() @MaxLength(MESSAGE_MAX_LENGTH) reason!: string;
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  errors!: string[];
  /** The request (or document) the message belonged to, when it could be recovered. */
  @IsOptional() @IsString() @MaxLength(NAME_MAX_LENGTH) correlationId?: string;
}

export const DeadLetteredEvent = defineEvent({
  type: 'llmbus.event.dead-lettered',
  topic: DeadLetterTopics.router,
  payload: DeadLettered,
  schemaVersion: 1,
  key: (p) => p.correlationId ?? `${p.originalTopic}:${p.originalPartition}:${p.originalOffset}`,
  description: 'A consumed message could not be processed and was set aside with the reason.',
});
