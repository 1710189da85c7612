import { AuditQueryError } from '@llmbus/audit';
import { PiiVaultError } from '@llmbus/pii';
import type { ArgumentsHost } from '@nestjs/common';
import { AuditQueryErrorFilter } from './audit-query-error.filter';

/** What the filter answers, through a stand-in for Express's response. */
function answer(error: AuditQueryError | PiiVaultError): { status: number; body: Record<string, unknown> } {
  const sent = { status: 0, body: {} as Record<string, unknown> };
  const response = {
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: Record<string, unknown>) {
      sent.body = body;
      return this;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
  new AuditQueryErrorFilter().catch(error, host);
  return sent;
}

describe('AuditQueryErrorFilter', () => {
  it('answers a refused query argument 400 with its code', () => {
    expect(answer(new AuditQueryError('invalid_limit', 'limit must be an integer'))).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'invalid_limit', message: 'limit must be an integer' },
    });
  });

  it('answers a record sealed under another key with the code and what to do, not a bare 500', () => {
    const { status, body } = answer(
      new PiiVaultError(
        'pii_key_mismatch',
        'the generator and the validator must share the same LLMBUS_PII_KEY',
      ),
    );
    expect(status).toBe(500);
    expect(body['error']).toBe('pii_key_mismatch');
    expect(body['message']).toMatch(/sealed under another LLMBUS_PII_KEY.*pii\.key/);
  });
});
