import { AuditQueryError } from '@llmbus/audit';
import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';

/** A query argument the store refused is the caller's to fix: 400 with the store's code and message. */
@Catch(AuditQueryError)
export class AuditQueryErrorFilter implements ExceptionFilter<AuditQueryError> {
  catch(error: AuditQueryError, host: ArgumentsHost): void {
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(400)
      .json({ statusCode: 400, error: error.code, message: error.message });
  }
}
