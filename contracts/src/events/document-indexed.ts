import { IsBoolean, IsInt, IsNumber, Matches, Min } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

/** A document's chunks are searchable. */
export class DocumentIndexed {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection!: string;
  @IsInt() @Min(1) version!: number;
  @IsInt() @Min(0) chunkCount!: number;
  /** True when the same content was already indexed and nothing changed. */
  @IsBoolean() unchanged!: boolean;
  /** Milliseconds spent chunking, embedding and upserting. */
  @IsNumber() @Min(0) durationMs!: number;
}

export const DocumentIndexedEvent = defineEvent({
  type: 'llmbus.document.indexed',
  topic: Topics.DocumentIndexed,
  payload: DocumentIndexed,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: 'A document was chunked, embedded and indexed.',
});
