import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { StatusStoreUnavailableError } from './request-statuses';

/** The audit store did not answer: 503 with `Retry-After`, never a 404 that would say "no such request". */
@Catch(StatusStoreUnavailableError)
export class StatusStoreUnavailableFilter implements ExceptionFilter<StatusStoreUnavailableError> {
  catch(error: StatusStoreUnavailableError, host: ArgumentsHost): void {
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(503)
      .setHeader('Retry-After', String(error.retryAfterSeconds))
      .json({ statusCode: 503, error: error.code, message: error.message });
  }
}
