import { IsInt, Matches, Min } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

/** A deleted document's chunks are no longer retrievable (the outcome of DocumentDeleted). */
export class DocumentRemoved {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection!: string;
  /** Chunks removed; 0 when the document was not indexed for this tenant. */
  @IsInt() @Min(0) removedChunks!: number;
}

export const DocumentRemovedEvent = defineEvent({
  type: 'llmbus.document.removed',
  topic: Topics.DocumentIndexed,
  payload: DocumentRemoved,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: "A deleted document's chunks were removed from the index.",
});
