import { ArrayMaxSize, IsArray, IsIn, IsInt, IsString, Matches, MaxLength, Min } from 'class-validator';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { ID_MESSAGE, ID_PATTERN } from '../values';

export const DOCUMENT_CONTENT_TYPES = ['text/plain', 'text/markdown', 'text/html'] as const;

/** A document to index (or re-index) into a collection. */
export class DocumentSubmitted {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection!: string;
  @IsString() @MaxLength(500) title!: string;
  @IsString() @MaxLength(2000) sourceUri!: string;
  @IsIn(DOCUMENT_CONTENT_TYPES) contentType!: (typeof DOCUMENT_CONTENT_TYPES)[number];
  @IsString() @MaxLength(1_000_000) content!: string;
  /** Groups allowed to read the document; empty means every user of the tenant. */
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  aclGroups!: string[];
  @IsInt() @Min(1) version!: number;
}

export const DocumentSubmittedEvent = defineEvent({
  type: 'llmbus.document.submitted',
  topic: Topics.DocumentIngest,
  payload: DocumentSubmitted,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: 'A document was submitted for indexing.',
});
