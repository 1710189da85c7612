import { AuditQueryError } from '@llmbus/audit';
import { PiiVaultError } from '@llmbus/pii';
import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';

/**
 * A query argument the store refused is the caller's to fix: 400 with the store's code and message.
 * A stored record whose raw values cannot be unsealed (PiiVaultError, for a reader with the
 * pii-reader role) is the operator's: 500 with the vault's code and what to do, instead of a bare
 * "Internal server error" (the trail was written under another LLMBUS_PII_KEY than the service's).
 */
@Catch(AuditQueryError, PiiVaultError)
export class AuditQueryErrorFilter implements ExceptionFilter<AuditQueryError | PiiVaultError> {
  catch(error: AuditQueryError | PiiVaultError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof AuditQueryError) {
      response.status(400).json({ statusCode: 400, error: error.code, message: error.message });
      return;
    }
    response.status(500).json({
      statusCode: 500,
      error: error.code,
      message:
        error.code === 'pii_key_mismatch'
          ? 'the raw values of this record were sealed under another LLMBUS_PII_KEY than the one this service runs ' +
            'with: run it with the key they were written with, as LLMBUS_PII_KEY or (after a rotation) listed in ' +
            'LLMBUS_PII_PREVIOUS_KEYS (in embedded mode, the key in LLMBUS_DATA_DIR/pii.key); ' +
            'without the pii-reader role the masked record can still be read'
          : `the raw values of this record cannot be read: ${error.message}`,
    });
  }
}
