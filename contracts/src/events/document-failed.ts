import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { LINE_MAX_LENGTH, LIST_MAX_ITEMS, MESSAGE_MAX_LENGTH } from '../limits';
import { defineEvent } from '../event-definition';
import { STAGES, Stage, Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';
import { FAILURE_CODES, FailureCode } from './request-failed';

/**
 * A DocumentSubmitted or DocumentDeleted was refused (invalid payload, oversize, no text to index,
 * or a handler failure after its retries): the outcome the document system waits for on
 * `documents.indexed.v1`, next to DocumentIndexed and DocumentRemoved. `message` says what to fix.
 */
export class DocumentFailed {
  /** The document's id from the refused payload, or the event's correlation id when it did not parse. */
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  /** The collection from the refused payload, when it named a valid one. */
  @IsOptional() @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection?: string;
  @IsIn(FAILURE_CODES) code!: FailureCode;
  @IsString() @MaxLength(MESSAGE_MAX_LENGTH) message!: string;
  @IsIn(STAGES) stage!: Stage;
  /** One entry per problem, e.g. a field path and what it must be. */
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @IsString({ each: true })
  @MaxLength(LINE_MAX_LENGTH, { each: true })
  details!: string[];
}

export const DocumentFailedEvent = defineEvent({
  type: 'llmbus.document.failed',
  topic: Topics.DocumentIndexed,
  payload: DocumentFailed,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: 'A submitted or deleted document was refused; the message says what to fix.',
});
