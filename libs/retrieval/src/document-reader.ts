import { EmbeddingSpaceResolver, type Embedder } from './embedder';
import type { ChunkPayload, VectorStore } from './vector-store';

/** Which document to read, for whom: the tenant, the requester's groups, optionally the collections it may be in. */
export interface DocumentReadRequest {
  readonly tenant: string;
  readonly documentId: string;
  /** The requester's groups: the document is read only when its aclGroups are empty or share one. */
  readonly groups: readonly string[];
  /** When set, the document must be in one of these logical collections. */
  readonly collections?: readonly string[];
}

/** An ingested document's newest version, put back together from its chunks. */
export interface ReadDocument {
  readonly documentId: string;
  readonly collection: string;
  readonly version: number;
  readonly title: string;
  readonly sourceUri: string;
  readonly chunkCount: number;
  /** The chunks' text in order, each section under its headings, overlaps between chunks removed. */
  readonly text: string;
}

/**
 * Reads whole ingested documents back from the vector store (the only copy the platform keeps),
 * within one tenant and with the requester's permissions, as the store evaluates them.
 */
export class DocumentReader {
  private readonly space: EmbeddingSpaceResolver;

  constructor(
    embedder: Embedder,
    private readonly store: VectorStore,
  ) {
    this.space = new EmbeddingSpaceResolver(embedder);
  }

  /**
   * The newest version of the document, or `undefined` when the tenant has no such document or the
   * groups may not read it (deliberately indistinguishable, so a reference reveals nothing about
   * documents the requester may not read). When the id is in several collections, the newest
   * version wins (ties: the collection first in alphabetical order).
   */
  async read(request: DocumentReadRequest): Promise<ReadDocument | undefined> {
    const space = await this.space.resolve();
    const chunks = await this.store.readDocument(space.collectionName, request);
    return assembleDocument(chunks);
  }
}

/**
 * Puts a document back together from its stored chunks (any order, any versions): keeps the newest
 * version, orders by chunkIndex, writes each section's headings (markdown `#` by depth) where the
 * section path changes, and drops the overlap a chunk repeats from the previous one in its section.
 * `undefined` for no chunks.
 */
export function assembleDocument(chunks: readonly ChunkPayload[]): ReadDocument | undefined {
  if (chunks.length === 0) return undefined;
  const newest = [...chunks].sort(
    (a, b) => b.version - a.version || a.collection.localeCompare(b.collection),
  )[0]!;
  const own = chunks
    .filter((c) => c.version === newest.version && c.collection === newest.collection)
    .sort((a, b) => a.chunkIndex - b.chunkIndex);
  let text = '';
  let previous: ChunkPayload | undefined;
  for (const chunk of own) {
    const sameSection =
      previous !== undefined &&
      previous.sectionPath.length === chunk.sectionPath.length &&
      previous.sectionPath.every((h, i) => h === chunk.sectionPath[i]);
    if (sameSection) {
      text += withoutOverlap(previous!.text, chunk.text);
    } else {
      const from = previous ? commonPrefix(previous.sectionPath, chunk.sectionPath) : 0;
      const headings = chunk.sectionPath
        .slice(from)
        .map((heading, i) => `${'#'.repeat(Math.min(from + i + 1, 6))} ${heading}`);
      text += (text ? '\n\n' : '') + [...headings, chunk.text].join('\n\n');
    }
    previous = chunk;
  }
  return {
    documentId: newest.documentId,
    collection: newest.collection,
    version: newest.version,
    title: newest.title,
    sourceUri: newest.sourceUri,
    chunkCount: own.length,
    text,
  };
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * `next` without the units it repeats from the end of `previous` (the chunker carries whole units
 * over, so the longest prefix of `next` that ends `previous` and stops at a unit joiner is the
 * overlap), starting with the joiner; `\n\n` + `next` when there is none.
 */
function withoutOverlap(previous: string, next: string): string {
  for (let k = Math.min(previous.length, next.length - 1); k > 0; k--) {
    if (!/\s/.test(next[k]!)) continue;
    const before = previous[previous.length - k - 1];
    if (before !== undefined && !/\s/.test(before)) continue;
    if (previous.endsWith(next.slice(0, k))) return next.slice(k);
  }
  return `\n\n${next}`;
}
