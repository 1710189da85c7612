import type { Stage } from '@llmbus/contracts';
import type { EventBus } from '@llmbus/bus';
import { INestApplication, INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { BusServer } from './bus-server';
import { PassThroughRpcFilter } from './pass-through.filter';

export interface StageAppOptions {
  readonly module: Type<unknown> | import('@nestjs/common').DynamicModule;
  readonly bus: EventBus;
  readonly stage: Stage;
  readonly notifyRequester: boolean;
  readonly onRetriesExhausted?: 'dead-letter' | 'redeliver';
  readonly groupId?: string;
  /** When set, the stage also serves HTTP on this port (0 = any free port). */
  readonly httpPort?: number;
  readonly httpHost?: string;
}

export interface StageApp {
  readonly stage: Stage;
  /** Base URL of the HTTP surface, when the stage has one. */
  readonly url?: string;
  close(): Promise<void>;
}

/** Starts a stage: its bus consumer and, optionally, its HTTP surface, as one Nest application. */
export async function startStageApp(options: StageAppOptions): Promise<StageApp> {
  const strategy = new BusServer({
    bus: options.bus,
    stage: options.stage,
    notifyRequester: options.notifyRequester,
    onRetriesExhausted: options.onRetriesExhausted,
    groupId: options.groupId,
  });
  if (options.httpPort !== undefined) {
    const app: INestApplication = await NestFactory.create(options.module, { bufferLogs: true });
    app.useLogger(app.get(PinoNestLogger));
    app.useGlobalFilters(new PassThroughRpcFilter());
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
  micro.useLogger(micro.get(PinoNestLogger));
  micro.useGlobalFilters(new PassThroughRpcFilter());
  await micro.listen();
  return { stage: options.stage, close: () => micro.close() };
}
