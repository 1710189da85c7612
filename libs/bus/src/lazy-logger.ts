import type { Logger } from 'pino';

const LEVEL_METHODS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = (): void => undefined;

/**
 * A logger that makes the real one (`make`, e.g. a pino child with an event's bindings) on first
 * use, so that one handed to code that may log nothing costs nothing: a pino child costs about
 * 35 µs of CPU, its bindings going through the redaction of every line. A call to a level
 * method that is off (`debug` at the default `info`) is answered without making it, by asking
 * `parent`, whose level the made logger has. Everything else (methods, `level`, `bindings()`,
 * `child()`) goes to the made logger, with methods bound to it.
 */
export function lazyLogger(parent: Logger, make: () => Logger): Logger {
  let made: Logger | undefined;
  const real = (): Logger => (made ??= make());
  return new Proxy(parent, {
    get(_target, property) {
      if (
        made === undefined &&
        typeof property === 'string' &&
        LEVEL_METHODS.has(property) &&
        !parent.isLevelEnabled(property)
      ) {
        return noop;
      }
      const logger = real();
      const value: unknown = Reflect.get(logger, property, logger);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
    set(_target, property, value) {
      return Reflect.set(real(), property, value);
    },
    has(_target, property) {
      return Reflect.has(real(), property);
    },
  });
}
