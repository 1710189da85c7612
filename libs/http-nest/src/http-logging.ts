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
 * Request headers whose values a request's log line keeps; every other header is logged by name
 * with the value "[redacted]". An allow-list, not the logger's deny-list of secret names: a client
 * that sends its key in a header llmbus does not read (`Proxy-Authorization`, Azure OpenAI's
 * `api-key`, `X-Auth-Token`, a gateway's own) would otherwise have it written to the log in clear.
 */
export const LOGGED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'connection',
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'expect',
  'origin',
  'referer',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-dest',
  'traceparent',
  'tracestate',
  'x-request-id',
  'x-correlation-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

/** `headers` as a request's log line shows them: values of headers not in LOGGED_REQUEST_HEADERS replaced by "[redacted]". */
export function loggableRequestHeaders(
  headers: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    shown[name] = LOGGED_REQUEST_HEADERS.has(name.toLowerCase()) ? value : '[redacted]';
  }
  return shown;
}

/**
 * nestjs-pino options for a stage's HTTP surface: one line per request at httpLogLevel; request
 * logs carry the caller's principal id (an API key id or a token's `sub`) and tenant once
 * authenticated; credentials are never bound, and header values are logged only for the
 * headers of LOGGED_REQUEST_HEADERS (see loggableRequestHeaders).
 */
export function httpLoggerParams(logger: Logger): Params {
  return {
    pinoHttp: {
      logger,
      customLogLevel: httpLogLevel,
      // pino-http hands this its standard request object ({id, method, url, headers, ...}).
      serializers: {
        req: (req: { headers?: Record<string, unknown> }) => ({
          ...req,
          headers: loggableRequestHeaders(req.headers),
        }),
      },
      customProps: (req) => {
        const principal = principalOf(req);
        return principal ? { principal: principal.id, tenant: principal.tenantId } : {};
      },
    },
  };
}
