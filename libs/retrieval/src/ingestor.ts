import { type ModelUsage, TerminalError } from '@llmbus/contracts';
import { Chunk, chunkDocument, ChunkingOptions, DocumentContentType } from './chunking/chunker';
import { addUsage, Embedder, EmbeddingSpaceResolver } from './embedder';
import type { ChunkPayload, StoredChunk, VectorPoint, VectorStore } from './vector-store';

/** A document to index, as DocumentSubmitted carries it, plus its tenant. */
export interface IngestionRequest {
  readonly tenant: string;
  readonly documentId: string;
  readonly collection: string;
  readonly title: string;
  readonly sourceUri: string;
  readonly contentType: DocumentContentType;
  readonly content: string;
  readonly aclGroups: readonly string[];
  readonly version: number;
  /** Document ids this one replaces once in effect. */
  readonly supersedes?: readonly string[];
  /** ISO date from which the document applies. */
  readonly effectiveDate?: string;
  /** Free-form version label ("2023.1", "FY2025"). */
  readonly versionLabel?: string;
}

/** A document to remove from the index, as DocumentDeleted carries it, plus its tenant. */
export interface DocumentRemoval {
  readonly tenant: string;
  readonly documentId: string;
  readonly collection: string;
}

export interface IngestionResult {
  readonly documentId: string;
  readonly collection: string;
  readonly version: number;
  /** Chunks of the indexed version (0 when a newer version is already indexed). */
  readonly chunkCount: number;
  /** Nothing was written: the same version with the same chunks and metadata, or a newer version, is indexed. */
  readonly unchanged: boolean;
  /** A newer version is already indexed, so this one was skipped. */
  readonly superseded: boolean;
  /** Store collection the chunks went to. */
  readonly storeCollection: string;
  readonly usage?: ModelUsage;
  /** Milliseconds by step, and in total. */
  readonly timings: {
    readonly chunkMs: number;
    readonly embedMs: number;
    readonly upsertMs: number;
    readonly deleteMs: number;
    readonly totalMs: number;
  };
}

export interface IngestorOptions {
  readonly chunking?: ChunkingOptions;
  /** Texts per embedding call (and per upsert). Default 32. */
  readonly batchSize?: number;
}

/**
 * Chunks, embeds and indexes documents. Idempotent: re-submitting an indexed version is a no-op.
 * A new version is written before the old one is deleted, so readers never see the document
 * missing (for a moment they may see both versions; the Retriever keeps the newest).
 */
export class Ingestor {
  private readonly space: EmbeddingSpaceResolver;
  private readonly batchSize: number;

  constructor(
    private readonly embedder: Embedder,
    private readonly store: VectorStore,
    private readonly options: IngestorOptions = {},
  ) {
    this.space = new EmbeddingSpaceResolver(embedder);
    this.batchSize = options.batchSize ?? 32;
  }

  /**
   * Indexes one document version; see the class comment for the guarantees. `onBatch` runs after
   * each embedded and stored batch (a consumer heartbeat during long documents). Throws a
   * TerminalError `invalid_payload` before writing anything for a document without text ("no text
   * to index"), one whose `supersedes` names itself, one whose `supersedes` closes a cycle
   * through the stored documents (each would retire itself at query time and vanish from retrieval),
   * and one whose id the tenant already has indexed in another collection (document ids are unique
   * per tenant: its chunks would silently replace that document's).
   */
  async ingest(
    request: IngestionRequest,
    hooks: { onBatch?: () => Promise<void> } = {},
  ): Promise<IngestionResult> {
    const started = performance.now();
    const space = await this.space.resolve();
    const timings = { chunkMs: 0, embedMs: 0, upsertMs: 0, deleteMs: 0, totalMs: 0 };
    const timed = async <T>(
      step: Exclude<keyof typeof timings, 'totalMs'>,
      work: () => Promise<T> | T,
    ): Promise<T> => {
      const t = performance.now();
      try {
        return await work();
      } finally {
        timings[step] += performance.now() - t;
      }
    };
    const finish = (
      result: Omit<IngestionResult, 'timings' | 'documentId' | 'collection' | 'version' | 'storeCollection'>,
    ) => ({
      documentId: request.documentId,
      collection: request.collection,
      version: request.version,
      storeCollection: space.collectionName,
      ...result,
      timings: { ...timings, totalMs: performance.now() - started },
    });

    // First pass: hashes only, so an unchanged document costs no embedding.
    const hashes = await timed('chunkMs', () => {
      const all: string[] = [];
      for (const chunk of this.chunks(request)) all.push(chunk.contentHash);
      return all;
    });
    if (hashes.length === 0) throw noTextToIndex(request);
    const self = (request.supersedes ?? []).indexOf(request.documentId);
    if (self >= 0) throw supersedesItself(request, self);
    await this.refuseSupersessionCycle(space.collectionName, request);
    const stored = await this.store.listDocumentChunks(
      space.collectionName,
      request.tenant,
      request.documentId,
    );
    const elsewhere = stored.find((c) => c.collection !== request.collection);
    if (elsewhere) throw indexedInAnotherCollection(request, elsewhere.collection);
    if (stored.some((c) => c.version > request.version)) {
      return finish({ chunkCount: 0, unchanged: true, superseded: true });
    }
    const current = stored.filter((c) => c.version === request.version);
    const upToDate = sameChunks(current, hashes) && current.every((c) => sameMetadata(c, request));
    if (upToDate && current.length === stored.length) {
      return finish({ chunkCount: hashes.length, unchanged: true, superseded: false });
    }

    let usage: ModelUsage | undefined;
    if (!upToDate && hashes.length > 0) {
      let batch: Chunk[] = [];
      const flush = async () => {
        const inputs = batch.map((c) => embeddingInput(request.title, c));
        const result = await timed('embedMs', () => this.embedder.embed(inputs));
        const batchSpace = this.space.observe(inputs, result);
        usage = addUsage(usage, result.usage);
        const points: VectorPoint[] = batch.map((chunk, i) => ({
          id: chunk.id,
          vector: result.vectors[i],
          payload: payloadOf(request, chunk),
        }));
        await timed('upsertMs', async () => {
          await this.store.ensureCollection(batchSpace.collectionName, batchSpace.dimension);
          await this.store.upsert(batchSpace.collectionName, points);
        });
        batch = [];
        await hooks.onBatch?.();
      };
      // Second pass: chunks are produced again lazily, so only one batch is held at a time.
      for (const chunk of this.chunks(request)) {
        batch.push(chunk);
        if (batch.length >= this.batchSize) await flush();
      }
      if (batch.length > 0) await flush();
    }
    await timed('deleteMs', () =>
      this.store.deleteByFilter(space.collectionName, {
        tenant: request.tenant,
        documentId: request.documentId,
        keep: hashes.length > 0 ? { version: request.version, chunkCount: hashes.length } : undefined,
      }),
    );
    return finish({ chunkCount: hashes.length, unchanged: false, superseded: false, usage });
  }

  /**
   * Removes every chunk of a document (all versions) in a tenant's collection; returns how many were
   * stored. Deleting a document that is not indexed is a no-op, so redelivery is harmless.
   */
  async remove(
    request: DocumentRemoval,
  ): Promise<{ readonly removedChunks: number; readonly storeCollection: string }> {
    const space = await this.space.resolve();
    const filter = {
      tenant: request.tenant,
      documentId: request.documentId,
      collections: [request.collection],
    };
    const removedChunks = await this.store.count(space.collectionName, filter);
    await this.store.deleteByFilter(space.collectionName, {
      tenant: request.tenant,
      documentId: request.documentId,
      collection: request.collection,
    });
    return { removedChunks, storeCollection: space.collectionName };
  }

  /**
   * Throws `invalid_payload` when following `supersedes` from `request` through the stored
   * documents (each one's newest version) leads back to `request.documentId`: every document of
   * such a cycle is superseded by another one in effect, so all of them would be retired. Walks at
   * most MAX_SUPERSESSION_WALK documents; ids never indexed end their path.
   */
  private async refuseSupersessionCycle(storeCollection: string, request: IngestionRequest): Promise<void> {
    const replaced = request.supersedes ?? [];
    const visited = new Set<string>();
    for (const [index, first] of replaced.entries()) {
      // Depth first, keeping the path for the message.
      const stack: (readonly string[])[] = [[request.documentId, first]];
      while (stack.length > 0 && visited.size < MAX_SUPERSESSION_WALK) {
        const path = stack.pop()!;
        const id = path[path.length - 1];
        if (visited.has(id)) continue;
        visited.add(id);
        const next = newestSupersedes(
          await this.store.listDocumentChunks(storeCollection, request.tenant, id),
        );
        if (next.includes(request.documentId))
          throw supersessionCycle(request, index, [...path, request.documentId]);
        for (const n of next) if (!visited.has(n)) stack.push([...path, n]);
      }
    }
  }

  private chunks(request: IngestionRequest): Generator<Chunk> {
    return chunkDocument(request, this.options.chunking);
  }
}

/**
 * The refusal of a document with no text to index (empty, only whitespace, or markup without text):
 * indexing it would report success with nothing searchable. A heading-only document has text (its
 * headings), so it is not refused. The indexed versions, if any, stay: withdrawing a document is
 * DocumentDeleted's job.
 */
function noTextToIndex(request: IngestionRequest): TerminalError {
  return new TerminalError(
    'invalid_payload',
    `document "${request.documentId}" (version ${request.version}, ${request.contentType}) has no text to index: its content is empty or only whitespace or markup; send the document's text, or send a DocumentDeleted (llmbus.document.deleted) to withdraw it from the index`,
    [`content: no text to index (${request.content.length} characters, none of them text)`],
  );
}

/** The refusal of a document id the tenant already has in another collection: it would replace that document. */
function indexedInAnotherCollection(request: IngestionRequest, collection: string): TerminalError {
  return new TerminalError(
    'invalid_payload',
    `document "${request.documentId}" is already indexed in collection "${collection}" of this tenant, and a document id names one document per tenant: indexing it in "${request.collection}" would silently replace that one; give it another id, or first withdraw the other with a DocumentDeleted (llmbus.document.deleted) for collection "${collection}"`,
    [`collection: "${request.collection}", but "${request.documentId}" is indexed in "${collection}"`],
  );
}

/** Documents a cycle check reads at most (each a store read of its chunks). */
const MAX_SUPERSESSION_WALK = 1000;

/** The `supersedes` of a stored document's newest version (chunks come ordered by version). */
function newestSupersedes(chunks: readonly StoredChunk[]): readonly string[] {
  const newest = chunks[chunks.length - 1];
  return newest?.supersedes ?? [];
}

/** The refusal of a document whose `supersedes` names itself: it would retire itself. */
function supersedesItself(request: IngestionRequest, index: number): TerminalError {
  return new TerminalError(
    'invalid_payload',
    `document "${request.documentId}" (version ${request.version}) supersedes itself, so it would never be returned; remove "${request.documentId}" from supersedes (a new revision of the same document id takes a higher version instead)`,
    [`supersedes[${index}]: "${request.documentId}" is the document's own id`],
  );
}

/** The refusal of a document whose `supersedes` closes a cycle: every document on it would be retired. */
function supersessionCycle(request: IngestionRequest, index: number, path: readonly string[]): TerminalError {
  return new TerminalError(
    'invalid_payload',
    `document "${request.documentId}" (version ${request.version}) would close a supersession cycle (${path.join(' → ')}): every document on it would be superseded by another and none returned; drop "${path[1]}" from its supersedes, or first send a version of "${path[path.length - 2]}" that no longer supersedes "${request.documentId}"`,
    [`supersedes[${index}]: "${path[1]}" leads back to "${request.documentId}" (${path.join(' → ')})`],
  );
}

/** What gets embedded for a chunk: its text under the document title and section path, which often carry the topic. */
export function embeddingInput(title: string, chunk: Pick<Chunk, 'sectionPath' | 'text'>): string {
  const heading = [title, ...chunk.sectionPath].filter(Boolean).join(' > ');
  return heading ? `${heading}\n\n${chunk.text}` : chunk.text;
}

function payloadOf(request: IngestionRequest, chunk: Chunk): ChunkPayload {
  return {
    tenant: request.tenant,
    collection: request.collection,
    aclGroups: [...new Set(request.aclGroups)].sort(),
    documentId: request.documentId,
    version: request.version,
    title: request.title,
    sourceUri: request.sourceUri,
    sectionPath: chunk.sectionPath,
    chunkIndex: chunk.chunkIndex,
    contentHash: chunk.contentHash,
    text: chunk.text,
    ...versionMetadata(request),
  };
}

function sameChunks(stored: readonly StoredChunk[], hashes: readonly string[]): boolean {
  return (
    stored.length === hashes.length &&
    stored.every((c, i) => c.chunkIndex === i && c.contentHash === hashes[i])
  );
}

/** Supersession and effective-date metadata, normalised: absent fields stay absent. */
function versionMetadata(
  m: Pick<IngestionRequest, 'supersedes' | 'effectiveDate' | 'versionLabel'>,
): Pick<ChunkPayload, 'supersedes' | 'effectiveDate' | 'versionLabel'> {
  const supersedes = [...new Set(m.supersedes ?? [])].sort();
  return {
    ...(supersedes.length > 0 ? { supersedes } : {}),
    ...(m.effectiveDate ? { effectiveDate: m.effectiveDate } : {}),
    ...(m.versionLabel ? { versionLabel: m.versionLabel } : {}),
  };
}

/** ACL, title, source, collection and supersession changes must reach the store even when the text did not change. */
function sameMetadata(stored: StoredChunk, request: IngestionRequest): boolean {
  const groups = [...new Set(request.aclGroups)].sort();
  const wanted = versionMetadata(request);
  const had = versionMetadata(stored);
  return (
    (wanted.supersedes ?? []).join('\u0000') === (had.supersedes ?? []).join('\u0000') &&
    wanted.effectiveDate === had.effectiveDate &&
    wanted.versionLabel === had.versionLabel &&
    stored.collection === request.collection &&
    stored.title === request.title &&
    stored.sourceUri === request.sourceUri &&
    stored.aclGroups.length === groups.length &&
    [...stored.aclGroups].sort().every((g, i) => g === groups[i])
  );
}
