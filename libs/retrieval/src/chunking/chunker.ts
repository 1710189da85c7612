import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { packChunks } from './chunk-packer';
import type { DocumentBlock } from './document-block';
import { htmlBlocks } from './html-blocks';
import { markdownBlocks, plainTextBlocks } from './markdown-blocks';
import { estimateTokens, TokenCounter } from './token-counter';

export type DocumentContentType = 'text/plain' | 'text/markdown' | 'text/html';

/** What the chunker needs to know of a document. */
export interface ChunkSource {
  readonly tenant: string;
  readonly documentId: string;
  readonly version: number;
  readonly contentType: DocumentContentType;
  readonly content: string;
}

export interface ChunkingOptions {
  /** Upper bound on each chunk's tokens. Default 200: room for the title and section path in a 256-token model. */
  readonly maxTokens?: number;
  /** Tokens shared by consecutive chunks of one section. Default 30. */
  readonly overlapTokens?: number;
  /** Default: characters / 4. */
  readonly countTokens?: TokenCounter;
}

export interface Chunk {
  /** UUID derived from tenant, document id, version and chunk index: the same input gives the same id. */
  readonly id: string;
  readonly chunkIndex: number;
  readonly sectionPath: readonly string[];
  readonly text: string;
  readonly tokenCount: number;
  /** sha256 (hex) of the section path and text. */
  readonly contentHash: string;
}

export const DEFAULT_CHUNKING = { maxTokens: 200, overlapTokens: 30 } as const;

/** Fixed namespace of chunk ids (UUID v5), so ids are stable across processes and releases. */
const CHUNK_ID_NAMESPACE = '0d7f3c5e-5b1a-4c8e-9f61-2a4b8c9d7e10';

/** Stable UUID of a chunk: Qdrant accepts only UUIDs or integers as point ids. */
export function chunkId(tenant: string, documentId: string, version: number, chunkIndex: number): string {
  return uuidv5(JSON.stringify([tenant, documentId, version, chunkIndex]), CHUNK_ID_NAMESPACE);
}

/** sha256 (hex) of a chunk's section path and text. */
export function chunkContentHash(sectionPath: readonly string[], text: string): string {
  return createHash('sha256')
    .update(JSON.stringify([sectionPath, text]))
    .digest('hex');
}

/** The paragraphs of a document with their section paths, by content type. */
export function documentBlocks(contentType: DocumentContentType, content: string): Generator<DocumentBlock> {
  switch (contentType) {
    case 'text/markdown':
      return markdownBlocks(content);
    case 'text/html':
      return htmlBlocks(content);
    case 'text/plain':
      return plainTextBlocks(content);
  }
}

/**
 * Splits a document into chunks, lazily: a caller that embeds and stores chunks in batches holds
 * only one batch at a time, whatever the document's size.
 */
export function* chunkDocument(source: ChunkSource, options: ChunkingOptions = {}): Generator<Chunk> {
  const maxTokens = options.maxTokens ?? DEFAULT_CHUNKING.maxTokens;
  const overlapTokens = options.overlapTokens ?? DEFAULT_CHUNKING.overlapTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new RangeError(`maxTokens must be a positive integer, got ${maxTokens}`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError(`overlapTokens must be an integer from 0 to maxTokens - 1, got ${overlapTokens}`);
  }
  const countTokens = options.countTokens ?? estimateTokens;
  let chunkIndex = 0;
  for (const packed of packChunks(documentBlocks(source.contentType, source.content), {
    maxTokens,
    overlapTokens,
    countTokens,
  })) {
    yield {
      id: chunkId(source.tenant, source.documentId, source.version, chunkIndex),
      chunkIndex,
      sectionPath: packed.sectionPath,
      text: packed.text,
      tokenCount: packed.tokenCount,
      contentHash: chunkContentHash(packed.sectionPath, packed.text),
    };
    chunkIndex++;
  }
}
