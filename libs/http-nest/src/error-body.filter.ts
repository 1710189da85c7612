import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, throwError } from 'rxjs';

/** The error codes of answers whose thrower named none (a bare `NotFoundException`, a guard's 403...). */
const CODES: Readonly<Record<number, string>> = {
  [HttpStatus.BAD_REQUEST]: 'invalid_request',
  [HttpStatus.UNAUTHORIZED]: 'unauthorized',
  [HttpStatus.FORBIDDEN]: 'forbidden',
  [HttpStatus.NOT_FOUND]: 'not_found',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'method_not_allowed',
  [HttpStatus.CONFLICT]: 'conflict',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'payload_too_large',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'unsupported_media_type',
  [HttpStatus.TOO_MANY_REQUESTS]: 'rate_limited',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'service_unavailable',
};

/** A machine-readable error code: lowercase snake case, as every code the platform names. */
const CODE = /^[a-z][a-z0-9_]*$/;

/** The documented error body of every HTTP surface (README, "HTTP API"): extra fields are kept. */
export interface ErrorBodyShape {
  readonly statusCode: number;
  /** A code such as `invalid_request`, `forbidden_role`, `not_found`, `request_id_conflict`. */
  readonly error: string;
  /** One human-readable sentence (never an array). */
  readonly message: string;
  /** One line per problem, when there are several (e.g. validation errors). */
  readonly details?: readonly string[];
  readonly [field: string]: unknown;
}

/**
 * The documented `{statusCode, error, message, details?}` form of an HttpException's response:
 * a string response becomes the message; a message array (class-validator's) becomes `details`
 * with a message joining them; an `error` that is not a code (Nest's "Not Found", "Forbidden")
 * becomes the code of the status (`not_found`, `forbidden`...).
 */
export function toErrorBody(status: number, response: string | object): ErrorBodyShape {
  const fields: Record<string, unknown> =
    typeof response === 'string' ? { message: response } : { ...response };
  let message = fields['message'];
  if (Array.isArray(message)) {
    const lines = message.map(String);
    if (fields['details'] === undefined) fields['details'] = lines;
    message = `the request is invalid: ${lines.join('; ')}`;
  }
  const error = fields['error'];
  return {
    ...fields,
    statusCode: status,
    error: typeof error === 'string' && CODE.test(error) ? error : codeOf(status),
    message: typeof message === 'string' ? message : String(message ?? codeOf(status)),
  };
}

function codeOf(status: number): string {
  const known = CODES[status];
  if (known !== undefined) return known;
  const name = HttpStatus[status] as string | undefined;
  return name === undefined ? `http_${status}` : name.toLowerCase();
}

/**
 * Answers every HttpException of an HTTP route in the documented error shape (toErrorBody), and
 * leaves a body without `message` or `error` (a health answer) as thrown, and passes anything else on: errors of bus handlers go back to the bus unchanged (it tells a
 * rejection from a transient fault by them), and unexpected HTTP errors to Nest's default answer
 * (500, logged with their stack). Controller-level filters (e.g. 503 with Retry-After) still win.
 */
@Catch()
export class ErrorBodyFilter implements ExceptionFilter<unknown> {
  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() !== 'http' || !(exception instanceof HttpException)) {
      return throwError(() => exception);
    }
    const response = host.switchToHttp().getResponse<Response>();
    const status = exception.getStatus();
    const body = exception.getResponse();
    // A body that is no error at all (`/healthz`'s `{status, reason}`) is answered as thrown.
    const isError = typeof body === 'string' || 'message' in body || 'error' in body;
    response.status(status).json(isError ? toErrorBody(status, body) : body);
  }
}
