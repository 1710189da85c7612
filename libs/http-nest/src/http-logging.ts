import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Params } from 'nestjs-pino';
import { principalOf } from './auth.guard';

/**
 * The level of a finished request's log line: server errors (5xx, or a request that failed) at
 * `error`, client errors (4xx) at `warn`, the rest at `info`. pino-http attaches an error, with its
 * stack, only to server errors, so a refused request logs one line without a stack.
 */
export function httpLogLevel(
  _req: IncomingMessage,
  res: ServerResponse,
  error?: Error,
): 'info' | 'warn' | 'error' {
  if (error !== undefined || res.statusCode >= 500) return 'error';
  if (res.statusCode >= 400) return 'warn';
  return 'info';
}

/**
 * nestjs-pino options for a stage's HTTP surface: one line per request at httpLogLevel; request
 * logs carry the caller's principal id (an API key id or a token's `sub`) and tenant once
 * authenticated; credentials are redacted by the logger's redact paths and never bound.
 */
export function httpLoggerParams(logger: Logger): Params {
  return {
    pinoHttp: {
      logger,
      customLogLevel: httpLogLevel,
      customProps: (req) => {
        const principal = principalOf(req);
        return principal ? { principal: principal.id, tenant: principal.tenantId } : {};
      },
    },
  };
}
