import { LlamaWorkerEngine } from './llama-worker-engine';
import type { WorkerResponse } from './worker-protocol';

describe('LlamaWorkerEngine log lines', () => {
  const lines: { level: 'info' | 'warn'; details: Record<string, unknown>; message: string }[] = [];
  const logger = {
    info: (details: Record<string, unknown>, message: string) =>
      lines.push({ level: 'info', details, message }),
    warn: (details: Record<string, unknown>, message: string) =>
      lines.push({ level: 'warn', details, message }),
    error: (details: Record<string, unknown>, message: string) =>
      lines.push({ level: 'warn', details, message }),
    debug: () => undefined,
  };
  const receive = (engine: LlamaWorkerEngine, message: WorkerResponse): void =>
    (engine as unknown as { receive(m: WorkerResponse): void }).receive(message);

  beforeEach(() => (lines.length = 0));

  it("carries llama.cpp's own level under llamaLevel, never a second `level` key in the JSON line", () => {
    const engine = new LlamaWorkerEngine({ maxThreads: 1, logger: logger as never });
    receive(engine, { type: 'log', level: 'warn', message: 'model quirk' });
    receive(engine, { type: 'log', level: 'error', message: 'failed to map' });
    expect(lines).toEqual([
      { level: 'info', details: { component: 'node-llama-cpp', llamaLevel: 'warn' }, message: 'model quirk' },
      {
        level: 'warn',
        details: { component: 'node-llama-cpp', llamaLevel: 'error' },
        message: 'failed to map',
      },
    ]);
  });
});
