import type { LoggerService } from '@nestjs/common';

/**
 * Contexts of Nest's own start-up lines: which modules were loaded, which routes were mapped,
 * that the application started. One per module and route, about 115 lines for `npm start`.
 */
export const NEST_BOOTSTRAP_CONTEXTS: ReadonlySet<string> = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
  'NestMicroservice',
]);

/**
 * Nest's logger for a stage: Nest's start-up lines (NEST_BOOTSTRAP_CONTEXTS) at debug, so that
 * a start at the default info level shows the stage's own lines; everything else unchanged.
 */
export class StageNestLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && NEST_BOOTSTRAP_CONTEXTS.has(context) && this.inner.debug) {
      this.inner.debug(message, ...optionalParams);
      return;
    }
    this.inner.log(message, ...optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.error(message, ...optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.warn(message, ...optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.debug?.(message, ...optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.verbose?.(message, ...optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.inner.fatal?.(message, ...optionalParams);
  }
}
