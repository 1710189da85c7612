import type { Stage } from '@llmbus/contracts';
import type { EventBus, FetchWait } from '@llmbus/bus';
import {
  buildOpenApiDocument,
  ErrorBodyFilter,
  serveOpenApiDocument,
  STAGE_HEALTH,
  type OpenApiInfo,
  type StageHealthSource,
} from '@llmbus/http-nest';
import { DynamicModule, INestMicroservice, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { BusServer } from './bus-server';
import { useEventSizedBodyParser } from './http-body-limit';
import { PassThroughRpcFilter } from './pass-through.filter';
import { StageNestLogger } from './stage-nest-logger';

export interface StageAppOptions {
  readonly module: Type<unknown> | DynamicModule;
  readonly bus: EventBus;
  readonly stage: Stage;
  readonly notifyRequester: boolean;
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  /** See SubscribeOptions.fetch. */
  readonly fetch?: FetchWait;
  readonly groupId?: string;
  /** When set, the stage also serves HTTP on this port (0 = any free port). */
  readonly httpPort?: number;
  readonly httpHost?: string;
  /** With an HTTP surface: serve its OpenAPI document, so titled, at /openapi.json. */
  readonly openApi?: OpenApiInfo;
}

export interface StageApp {
  readonly stage: Stage;
  /** Base URL of the HTTP surface, when the stage has one. */
  readonly url?: string;
  close(): Promise<void>;
}

@Module({})
class StageHealthModule {}

@Module({})
class StageRootModule {}

/** The stage's module plus STAGE_HEALTH (the bus), global so that /healthz reports the stage's consumers. */
function withStageHealth(module: Type<unknown> | DynamicModule, bus: EventBus): DynamicModule {
  const source: StageHealthSource = { health: () => bus.health() };
  return {
    module: StageRootModule,
    imports: [
      module,
      {
        module: StageHealthModule,
        global: true,
        providers: [{ provide: STAGE_HEALTH, useValue: source }],
        exports: [STAGE_HEALTH],
      },
    ],
  };
}

/** Starts a stage: its bus consumer and, optionally, its HTTP surface, as one Nest application. */
export async function startStageApp(options: StageAppOptions): Promise<StageApp> {
  const strategy = new BusServer({
    bus: options.bus,
    stage: options.stage,
    notifyRequester: options.notifyRequester,
    onRetriesExhausted: options.onRetriesExhausted,
    fetch: options.fetch,
    groupId: options.groupId,
  });
  if (options.httpPort !== undefined) {
    const app = await NestFactory.create<NestExpressApplication>(
      withStageHealth(options.module, options.bus),
      { bufferLogs: true, bodyParser: false },
    );
    const logger = app.get(PinoNestLogger);
    app.useLogger(new StageNestLogger(logger));
    useEventSizedBodyParser(app, options.bus.maxEventBytes, (message) =>
      logger.warn(message, 'HttpBodyLimit'),
    );
    // Answers HTTP errors in the documented {statusCode, error, message} shape; bus errors pass through.
    app.useGlobalFilters(new ErrorBodyFilter());
    if (options.openApi) serveOpenApiDocument(app, buildOpenApiDocument(app, options.openApi));
    app.connectMicroservice({ strategy }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    await app.listen(options.httpPort, options.httpHost ?? '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    return {
      stage: options.stage,
      url: `http://${options.httpHost ?? '127.0.0.1'}:${address.port}`,
      close: () => app.close(),
    };
  }
  const micro: INestMicroservice = await NestFactory.createMicroservice(options.module, {
    strategy,
    bufferLogs: true,
  });
  micro.useLogger(new StageNestLogger(micro.get(PinoNestLogger)));
  micro.useGlobalFilters(new PassThroughRpcFilter());
  await micro.listen();
  return { stage: options.stage, close: () => micro.close() };
}
