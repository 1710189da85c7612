import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { Body, Controller, Module, Post, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { startStageApp, type StageApp } from './stage-app';

@Controller('things')
class ThingsController {
  @Post()
  create(@Body() body: Record<string, unknown>): Record<string, unknown> {
    return { received: body };
  }

  @Post('touch')
  touch(): Record<string, unknown> {
    return { touched: true };
  }
}

@Module({})
class ThingsModule {}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

// A stage's HTTP surface as `startStageApp` builds it (router and auditor alike), on an in-memory bus.
describe('stage HTTP bodies', () => {
  let app: StageApp;
  let bus: EventBus;
  const post = async (path: string, body: string | undefined, contentType?: string): Promise<Answer> => {
    const response = await fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: contentType === undefined ? {} : { 'Content-Type': contentType },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const module: DynamicModule = {
      module: ThingsModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: pino({ level: 'silent' }) } })],
      controllers: [ThingsController],
    };
    bus = new EventBus(new InMemoryTransport(), { logger: pino({ level: 'silent' }) });
    app = await startStageApp({ module, bus, stage: 'router', notifyRequester: false, httpPort: 0 });
  });

  afterAll(async () => {
    await app.close();
    await bus.close();
  });

  it('takes a JSON body', async () => {
    expect(await post('/things', '{"a":1}', 'application/json; charset=utf-8')).toEqual({
      status: 201,
      body: { received: { a: 1 } },
    });
  });

  it('answers a body that is not JSON (curl -d without a Content-Type) with 415 saying what to send', async () => {
    const answer = await post('/things', '{"a":1}', 'application/x-www-form-urlencoded');
    expect(answer).toEqual({
      status: 415,
      body: {
        statusCode: 415,
        error: 'unsupported_media_type',
        message: expect.stringContaining('Content-Type: application/json'),
      },
    });
    // The refusal never echoes the body back.
    expect(JSON.stringify(answer.body)).not.toContain('"a":1');
    expect((await post('/things', 'a=1', 'text/plain')).status).toBe(415);
  });

  it('answers malformed JSON with 400 invalid_json in the documented error shape', async () => {
    expect(await post('/things', '{"a":', 'application/json')).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        error: 'invalid_json',
        message: expect.stringMatching(/^the request body is not valid JSON: /),
      },
    });
  });

  it('lets a POST without a body through, whatever its Content-Type', async () => {
    expect(await post('/things/touch', undefined)).toEqual({ status: 201, body: { touched: true } });
    expect(await post('/things/touch', '', 'application/x-www-form-urlencoded')).toEqual({
      status: 201,
      body: { touched: true },
    });
  });
});
