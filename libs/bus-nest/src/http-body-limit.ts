import { PayloadTooLargeException } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/**
 * How much larger than its event an HTTP body may be. The event limit applies to the encoded event
 * (UTF-8 JSON); a client may send the same text as `\uXXXX` escapes, up to three times as many bytes
 * (a two-byte character becomes six), plus formatting. The route checks the encoded event itself.
 */
const ESCAPING_ALLOWANCE = 4;

/** The JSON/urlencoded body limit of a stage's HTTP surface: 4 × LLMBUS_MAX_EVENT_BYTES, in bytes. */
export function httpBodyLimitBytes(maxEventBytes: number): number {
  return ESCAPING_ALLOWANCE * maxEventBytes;
}

interface BodyParserError {
  readonly type: string;
  readonly length?: number;
}

function isBodyTooLarge(error: unknown): error is BodyParserError {
  return (
    typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'entity.too.large'
  );
}

/**
 * Parses JSON and urlencoded bodies up to httpBodyLimitBytes(maxEventBytes) instead of the
 * framework's 100 kB, and answers a larger body with 413 and a JSON body naming
 * LLMBUS_MAX_EVENT_BYTES. The refusal is a client error: `warn` gets a line without a stack.
 */
export function useEventSizedBodyParser(
  app: NestExpressApplication,
  maxEventBytes: number,
  warn: (message: string) => void,
): void {
  const limit = httpBodyLimitBytes(maxEventBytes);
  app.useBodyParser('json', { limit });
  app.useBodyParser('urlencoded', { limit, extended: true });
  // Body-parser errors skip the routes; this turns its 413 into an HttpException that Nest answers.
  app.use((error: unknown, req: Request, _res: Response, next: NextFunction) => {
    if (!isBodyTooLarge(error)) return next(error);
    const size = error.length === undefined ? 'over the limit' : `${error.length} bytes`;
    const message =
      `the request body is ${size}; the HTTP body limit is ${limit} bytes ` +
      `(${ESCAPING_ALLOWANCE} × LLMBUS_MAX_EVENT_BYTES, which is ${maxEventBytes} bytes and bounds the encoded event). ` +
      'Shorten the input or send large documents by reference.';
    warn(`${req.method} ${req.path} answered 413: ${message}`);
    next(
      new PayloadTooLargeException({
        statusCode: 413,
        error: 'payload_too_large',
        message,
        variable: 'LLMBUS_MAX_EVENT_BYTES',
        maxEventBytes,
        limitBytes: limit,
      }),
    );
  });
}
