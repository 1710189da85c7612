import { httpLoggerParams, identityProviders, OPS_CONTROLLERS } from '@llmbus/http-nest';
import { DocumentReader, Ingestor, Retriever } from '@llmbus/retrieval';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { RetrieverDeps } from './retriever-deps';
import { RetrieverEventsController } from './retriever.events';
import { RetrievalCache } from './retrieval-cache';

/** The retriever stage: document ingestion and context retrieval, no HTTP surface. */
@Module({})
export class RetrieverModule {
  /** Wires the stage over the given embedder and vector store. */
  static forRoot(deps: RetrieverDeps): DynamicModule {
    return {
      module: RetrieverModule,
      imports: [LoggerModule.forRoot(httpLoggerParams(deps.logger))],
      controllers: [RetrieverEventsController, ...OPS_CONTROLLERS],
      providers: [
        ...identityProviders(deps.apiKeys ?? deps.config.apiKeys, deps.config.oidc),
        { provide: Ingestor, useValue: new Ingestor(deps.embedder, deps.vectorStore, deps.ingestion) },
        { provide: Retriever, useValue: new Retriever(deps.embedder, deps.vectorStore, deps.retrieval) },
        { provide: DocumentReader, useValue: new DocumentReader(deps.embedder, deps.vectorStore) },
        { provide: RetrievalCache, useValue: deps.retrievalCache ?? null },
      ],
    };
  }
}
