import type { HandlerContext, Outgoing } from '@llmbus/bus';
import { EventRejectedError, outgoing } from '@llmbus/bus';
import {
  ContextRetrievedEvent,
  DocumentDeleted,
  DocumentDeletedEvent,
  DocumentIndexedEvent,
  DocumentRemovedEvent,
  DocumentSubmitted,
  DocumentSubmittedEvent,
  EventEnvelope,
  RequestRouted,
  RequestRoutedEvent,
} from '@llmbus/contracts';
import { inSpan, setDefinedAttributes } from '@llmbus/observability';
import { DocumentReader, Ingestor, Retriever } from '@llmbus/retrieval';
import { Controller, Inject, Optional } from '@nestjs/common';
import { RetrievalCache } from './retrieval-cache';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';

/** Indexes submitted documents and retrieves context for routed requests. */
@Controller()
export class RetrieverEventsController {
  constructor(
    private readonly ingestor: Ingestor,
    private readonly retriever: Retriever,
    private readonly documents: DocumentReader,
    @Optional() @Inject(RetrievalCache) private readonly cache: RetrievalCache | null,
  ) {}

  @EventPattern(DocumentSubmittedEvent.type)
  async documentSubmitted(
    @Payload() event: EventEnvelope<DocumentSubmitted>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const result = await this.ingestor.ingest(
      { tenant: event.tenantid, ...event.data },
      { onBatch: ctx.heartbeat },
    );
    const { documentId, collection, version, chunkCount, unchanged, superseded, timings, storeCollection } =
      result;
    // Every cached result over this collection is stale now (the next one is searched afresh).
    await this.cache?.invalidate(event.tenantid, collection);
    ctx.log.info(
      { documentId, collection, version, chunkCount, unchanged, superseded, storeCollection, timings },
      'document indexed',
    );
    return [
      outgoing(DocumentIndexedEvent, {
        documentId,
        collection,
        version,
        chunkCount,
        unchanged,
        durationMs: timings.totalMs,
      }),
    ];
  }

  /** Removes the document's chunks in the envelope's tenant and reports how many went. */
  @EventPattern(DocumentDeletedEvent.type)
  async documentDeleted(
    @Payload() event: EventEnvelope<DocumentDeleted>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { documentId, collection } = event.data;
    const { removedChunks, storeCollection } = await this.ingestor.remove({
      tenant: event.tenantid,
      documentId,
      collection,
    });
    await this.cache?.invalidate(event.tenantid, collection);
    ctx.log.info({ documentId, collection, removedChunks, storeCollection }, 'document deleted');
    return [outgoing(DocumentRemovedEvent, { documentId, collection, removedChunks })];
  }

  @EventPattern(RequestRoutedEvent.type)
  async requestRouted(
    @Payload() event: EventEnvelope<RequestRouted>,
    @Ctx() ctx: HandlerContext,
  ): Promise<Outgoing[]> {
    const { requestId, context, retrieval } = event.data;
    const input = retrieval.document
      ? await withReferencedDocument(this.documents, event, ctx)
      : event.data.input;
    const request = {
      tenant: event.tenantid,
      collections: retrieval.collections,
      topK: retrieval.topK,
      query: retrieval.query,
      groups: context.requester.groups,
      collectionWeights: Object.fromEntries(
        (retrieval.collectionWeights ?? []).map((w) => [w.collection, w.weight]),
      ),
    };
    const result = await inSpan(
      `retrieval ${retrieval.collections.join(',')}`,
      {
        attributes: {
          'gen_ai.operation.name': 'retrieval',
          'gen_ai.data_source.id': retrieval.collections.join(','),
          'gen_ai.request.top_k': retrieval.topK,
        },
      },
      async (span) => {
        const found: Awaited<ReturnType<RetrievalCache['lookup']>> = this.cache
          ? await this.cache.lookup(request, () => this.retriever.retrieve(request))
          : await this.retriever.retrieve(request);
        setDefinedAttributes(span, {
          'llmbus.retrieval.passages': found.passages.length,
          'llmbus.retrieval.withheld': found.withheldCount,
          'llmbus.retrieval.relevance': found.relevance,
          'llmbus.retrieval.answerable': found.answerable,
          'llmbus.retrieval.queries': found.plan?.queries.length,
          'llmbus.retrieval.cached': found.cached,
        });
        return found;
      },
    );
    const { passages, withheldCount, usage, plan, relevance, answerable, cached } = result;
    ctx.log.info(
      {
        passages: passages.map((p) => p.id),
        withheldCount,
        relevance,
        answerable,
        collections: retrieval.collections,
        queries: plan?.queries.length,
        cached,
        decomposedBy: plan?.decomposedBy,
      },
      'context retrieved',
    );
    return [
      outgoing(ContextRetrievedEvent, {
        requestId,
        context,
        input,
        passages,
        withheldCount,
        relevance,
        answerable,
        ...(usage ? { usage } : {}),
      }),
    ];
  }
}

/**
 * The request's input with the document it references (RequestRouted.retrieval.document) read into
 * its field: the document's newest version in the event's tenant, read with the requester's groups.
 * Throws EventRejectedError `invalid_input` (the requester gets a RequestFailed) when there is no
 * such document the requester may read, without telling whether it exists, and when it is longer
 * than the workflow accepts.
 */
export async function withReferencedDocument(
  documents: DocumentReader,
  event: EventEnvelope<RequestRouted>,
  ctx: Pick<HandlerContext, 'log'>,
): Promise<Record<string, unknown>> {
  const { input, context, retrieval } = event.data;
  const reference = retrieval.document!;
  const document = await documents.read({
    tenant: event.tenantid,
    documentId: reference.documentId,
    groups: context.requester.groups,
    ...(reference.collections ? { collections: reference.collections } : {}),
  });
  if (!document) {
    const where = reference.collections ? ` in ${reference.collections.join(', ')}` : '';
    throw new EventRejectedError(
      'invalid_input',
      `input references document "${reference.documentId}", but tenant ${event.tenantid} has no ingested document with that id${where} that this requester may read; ingest it first, check the id, or ask for access to it`,
      [`documentId: ${reference.documentId}: not found or not readable by this requester`],
    );
  }
  if (document.text.length > reference.maxChars) {
    throw new EventRejectedError(
      'invalid_input',
      `document "${reference.documentId}" is ${document.text.length} characters long; this workflow reads at most ${reference.maxChars}`,
      [`documentId: ${reference.documentId}: longer than ${reference.maxChars} characters`],
    );
  }
  ctx.log.info(
    {
      documentId: document.documentId,
      collection: document.collection,
      version: document.version,
      chunks: document.chunkCount,
      into: reference.into,
    },
    'referenced document read',
  );
  return { ...input, [reference.into]: document.text };
}
