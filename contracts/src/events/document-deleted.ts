import { Matches } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

/**
 * A document was withdrawn: its chunks must stop being retrievable. The tenant is the envelope's.
 * It shares the ingest topic and key with DocumentSubmitted, so submissions and deletions of one
 * document are applied in the order they were published.
 */
export class DocumentDeleted {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection!: string;
}

export const DocumentDeletedEvent = defineEvent({
  type: 'llmbus.document.deleted',
  topic: Topics.DocumentIngest,
  payload: DocumentDeleted,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: 'A document was deleted; its chunks are removed from the index.',
});
