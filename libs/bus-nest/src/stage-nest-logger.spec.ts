import { EventBus, InMemoryTransport } from '@llmbus/bus';
import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { startStageApp } from './stage-app';
import { NEST_BOOTSTRAP_CONTEXTS } from './stage-nest-logger';

@Controller('things')
class ThingsController {
  @Get()
  list(): string[] {
    return [];
  }
}

@Module({})
class ThingsModule {}

interface Line {
  level: number;
  context?: string;
  msg?: string;
}

/** Starts a stage with an HTTP route whose logger writes to memory at `level`; returns its lines. */
async function startCapturing(level: string): Promise<Line[]> {
  const lines: Line[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line) as Line) });
  const module: DynamicModule = {
    module: ThingsModule,
    imports: [LoggerModule.forRoot({ pinoHttp: { logger } })],
    controllers: [ThingsController],
  };
  const bus = new EventBus(new InMemoryTransport(), { logger: pino({ level: 'silent' }) });
  const app = await startStageApp({ module, bus, stage: 'router', notifyRequester: false, httpPort: 0 });
  await app.close();
  await bus.close();
  return lines;
}

const bootstrap = (line: Line) => line.context !== undefined && NEST_BOOTSTRAP_CONTEXTS.has(line.context);

// One start per test file: Nest's static logger keeps the first application's, so a second start
// in the same process would log its start-up lines elsewhere.
describe('StageNestLogger', () => {
  it("logs Nest's start-up lines (modules loaded, routes mapped, started) at debug, none at info", async () => {
    const lines = await startCapturing('debug');
    const startUp = lines.filter(bootstrap);
    expect([...new Set(startUp.map((line) => line.context))]).toEqual(
      expect.arrayContaining(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']),
    );
    expect(startUp.some((line) => line.context === 'RouterExplorer' && /\/things/.test(line.msg ?? ''))).toBe(
      true,
    );
    expect(startUp.filter((line) => line.level !== 20)).toEqual([]);
  });
});
