import type { HandlerContext, Outgoing } from '@llmbus/bus';
import { outgoing } from '@llmbus/bus';
import {
  ContextRetrievedEvent,
  DocumentIndexedEvent,
  DocumentSubmitted,
  DocumentSubmittedEvent,
  EventEnvelope,
  RequestRouted,
  RequestRoutedEvent,
} from '@llmbus/contracts';
import { Ingestor, Retriever } from '@llmbus/retrieval';
import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';

/** Indexes submitted documents and retrieves context for routed requests. */
@Controller()
export class RetrieverEventsController {
  constructor(
    private readonly ingestor: Ingestor,
    private readonly retriever: Retriever,
  ) {}

  @EventPattern(DocumentSubmittedEvent.type)
  async documentSubmitted(@Payload() event: EventEnvelope<DocumentSubmitted>, @Ctx() ctx: HandlerContext): Promise<Outgoing[]> {
    const result = await this.ingestor.ingest({ tenant: event.tenantid, ...event.data }, { onBatch: ctx.heartbeat });
    const { documentId, collection, version, chunkCount, unchanged, superseded, timings, storeCollection } = result;
    ctx.log.info({ documentId, collection, version, chunkCount, unchanged, superseded, storeCollection, timings }, 'document indexed');
    return [outgoing(DocumentIndexedEvent, { documentId, collection, version, chunkCount, unchanged, durationMs: timings.totalMs })];
  }

  @EventPattern(RequestRoutedEvent.type)
  async requestRouted(@Payload() event: EventEnvelope<RequestRouted>, @Ctx() ctx: HandlerContext): Promise<Outgoing[]> {
    const { requestId, context, input, retrieval } = event.data;
    const { passages, withheldCount, usage } = await this.retriever.retrieve({
      tenant: event.tenantid,
      collections: retrieval.collections,
      topK: retrieval.topK,
      query: retrieval.query,
      groups: context.requester.groups,
    });
    ctx.log.info({ passages: passages.map((p) => p.id), withheldCount, collections: retrieval.collections }, 'context retrieved');
    return [
      outgoing(ContextRetrievedEvent, { requestId, context, input, passages, withheldCount, ...(usage ? { usage } : {}) }),
    ];
  }
}
