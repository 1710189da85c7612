import { PII_ATTESTATION_HEADER as DOCUMENTED } from '@llmbus/contracts';
import { PII_ATTESTATION_HEADER } from '@llmbus/pii';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

describe('the llmbus_pii header', () => {
  it('is the header the attestation codec writes and the one the contracts name', () => {
    expect(PII_ATTESTATION_HEADER).toBe(DOCUMENTED);
  });

  it('is described among the message headers of the generated AsyncAPI document', () => {
    const asyncapi = readFileSync(
      join(__dirname, '..', '..', 'contracts', 'generated', 'asyncapi.yaml'),
      'utf8',
    );
    const headers = asyncapi.slice(asyncapi.indexOf('CloudEventHeaders:'));
    expect(headers).toMatch(
      new RegExp(
        `\\n\\s+${PII_ATTESTATION_HEADER}:\\n\\s+description: "?Optional, between llmbus stages only`,
      ),
    );
  });
});
