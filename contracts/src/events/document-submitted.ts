import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
} from 'class-validator';
import {
  LIST_MAX_ITEMS,
  NAME_MAX_LENGTH,
  SHORT_NAME_MAX_LENGTH,
  TITLE_MAX_LENGTH,
  URI_MAX_LENGTH,
} from '../limits';
import { defineEvent } from '../event-definition';
import { Topics } from '../topics';
import { CALENDAR_DAY, ID_MESSAGE, ID_PATTERN } from '../values';

export const DOCUMENT_CONTENT_TYPES = ['text/plain', 'text/markdown', 'text/html'] as const;

/** A document to index (or re-index) into a collection. */
export class DocumentSubmitted {
  @Matches(ID_PATTERN, { message: `documentId ${ID_MESSAGE}` }) documentId!: string;
  @Matches(ID_PATTERN, { message: `collection ${ID_MESSAGE}` }) collection!: string;
  @IsString() @MaxLength(TITLE_MAX_LENGTH) title!: string;
  @IsString() @MaxLength(URI_MAX_LENGTH) sourceUri!: string;
  @IsIn(DOCUMENT_CONTENT_TYPES) contentType!: (typeof DOCUMENT_CONTENT_TYPES)[number];
  @IsString() @MaxLength(1_000_000) content!: string;
  /** Groups allowed to read the document; empty means every user of the tenant. */
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @IsString({ each: true })
  @MaxLength(NAME_MAX_LENGTH, { each: true })
  aclGroups!: string[];
  /** Revision of this document id: a higher one replaces a lower one under the same id. */
  @IsInt() @Min(1) version!: number;
  /**
   * Other documents (ids in the same tenant) this one replaces, e.g. `travel-policy-2024` supersedes
   * `travel-policy-2023`: once this document is in effect, retrieval no longer returns them.
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIST_MAX_ITEMS)
  @Matches(ID_PATTERN, { each: true, message: `supersedes: each document id ${ID_MESSAGE}` })
  supersedes?: string[];
  /** Day from which the document applies (ISO 8601 date, `2024-01-01`); supersedes nothing before then. */
  @IsOptional()
  @Matches(CALENDAR_DAY, {
    message: ({ value }) =>
      `effectiveDate must be a day of the calendar as an ISO 8601 date, YYYY-MM-DD (${JSON.stringify(value)} is not: a month has 28 to 31 days, February 29 only in leap years)`,
  })
  effectiveDate?: string;
  /** The publisher's own version label, free-form ("2023.1", "FY2025"); cited, and a last tie-breaker. */
  @IsOptional() @IsString() @MaxLength(SHORT_NAME_MAX_LENGTH) versionLabel?: string;
}

export const DocumentSubmittedEvent = defineEvent({
  type: 'llmbus.document.submitted',
  topic: Topics.DocumentIngest,
  payload: DocumentSubmitted,
  schemaVersion: 1,
  key: (p) => p.documentId,
  description: 'A document was submitted for indexing.',
});
