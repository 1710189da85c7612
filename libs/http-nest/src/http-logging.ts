import type { Logger } from 'pino';
import type { Params } from 'nestjs-pino';
import { principalOf } from './auth.guard';

/**
 * nestjs-pino options for a stage's HTTP surface: request logs carry the caller's principal id
 * (an API key id or a token's `sub`) and tenant once authenticated; credentials are redacted by
 * the logger's redact paths and never bound.
 */
export function httpLoggerParams(logger: Logger): Params {
  return {
    pinoHttp: {
      logger,
      customProps: (req) => {
        const principal = principalOf(req);
        return principal ? { principal: principal.id, tenant: principal.tenantId } : {};
      },
    },
  };
}
