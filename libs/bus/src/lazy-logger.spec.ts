import pino from 'pino';
import { lazyLogger } from './lazy-logger';

function captured(level: string) {
  const lines: Record<string, unknown>[] = [];
  const parent = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  let made = 0;
  const log = lazyLogger(parent, () => {
    made += 1;
    return parent.child({ correlationId: 'r-1' });
  });
  return { log, lines, made: () => made };
}

describe('lazyLogger', () => {
  it('makes its logger once, on the first line written, and writes with its bindings', () => {
    const { log, lines, made } = captured('info');
    expect(made()).toBe(0);
    log.info({ n: 1 }, 'first');
    log.warn('second');
    expect(made()).toBe(1);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'first', n: 1, correlationId: 'r-1', level: 30 }),
      expect.objectContaining({ msg: 'second', correlationId: 'r-1', level: 40 }),
    ]);
  });

  it('answers a line whose level is off without making its logger, and writes it once the level is on', () => {
    const { log, lines, made } = captured('info');
    log.debug('hidden');
    expect(made()).toBe(0);
    expect(lines).toEqual([]);
    log.level = 'debug';
    log.debug('shown');
    expect(made()).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ msg: 'shown', correlationId: 'r-1' })]);
  });

  it('hands level checks, bindings and children to the made logger', () => {
    const { log, lines } = captured('info');
    expect(log.isLevelEnabled('info')).toBe(true);
    expect(log.isLevelEnabled('debug')).toBe(false);
    expect(log.bindings()).toEqual({ correlationId: 'r-1' });
    log.child({ step: 'x' }).info('nested');
    expect(lines).toEqual([expect.objectContaining({ msg: 'nested', correlationId: 'r-1', step: 'x' })]);
  });
});
