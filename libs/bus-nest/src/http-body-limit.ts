import { BadRequestException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
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

function isBodyParserError(error: unknown, type: string): error is BodyParserError & { message: string } {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === type;
}

/** Whether a request carries a body: a non-zero Content-Length, or a chunked one. */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Parses JSON and urlencoded bodies up to httpBodyLimitBytes(maxEventBytes) instead of the
 * framework's 100 kB, and answers a larger body with 413 and a JSON body naming
 * LLMBUS_MAX_EVENT_BYTES. A body that is not `application/json` gets 415 `unsupported_media_type`
 * and malformed JSON 400 `invalid_json`, both `{statusCode, error, message}` and never echoing
 * the body. Each refusal is a client error: `warn` gets a line without a stack.
 */
export function useEventSizedBodyParser(
  app: NestExpressApplication,
  maxEventBytes: number,
  warn: (message: string) => void,
): void {
  const limit = httpBodyLimitBytes(maxEventBytes);
  // Every route takes JSON. Any other body (curl -d sends application/x-www-form-urlencoded unless
  // told otherwise) would reach validation as one odd field named after the whole text, so it is
  // refused first, saying what to send, without echoing the body.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (!hasBody(req) || req.is('application/json')) return next();
    const sent = req.headers['content-type'] ?? 'no Content-Type';
    const message =
      `the request body must be JSON sent with "Content-Type: application/json" (this one came as ${JSON.stringify(sent).slice(0, 120)}; ` +
      `curl -d sends application/x-www-form-urlencoded unless given -H 'Content-Type: application/json')`;
    warn(`${req.method} ${req.path} answered 415: ${message}`);
    next(new UnsupportedMediaTypeException({ statusCode: 415, error: 'unsupported_media_type', message }));
  });
  app.useBodyParser('json', { limit });
  app.useBodyParser('urlencoded', { limit, extended: true });
  // Body-parser errors skip the routes; this turns its 413 into an HttpException that Nest answers.
  app.use((error: unknown, req: Request, _res: Response, next: NextFunction) => {
    if (isBodyParserError(error, 'entity.parse.failed')) {
      const message = `the request body is not valid JSON: ${error.message}`;
      warn(`${req.method} ${req.path} answered 400: ${message}`);
      return next(new BadRequestException({ statusCode: 400, error: 'invalid_json', message }));
    }
    if (!isBodyParserError(error, 'entity.too.large')) return next(error);
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
