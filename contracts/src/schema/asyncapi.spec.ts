import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import { attributesToHeaders } from '../envelope';
import { buildAsyncApi } from './asyncapi';

const checkedIn = join(__dirname, '..', '..', 'generated', 'asyncapi.yaml');

describe('the AsyncAPI document', () => {
  it('parses with @asyncapi/parser without errors: every $ref resolves inside the document', async () => {
    const { document, diagnostics } = await new Parser().parse(readFileSync(checkedIn, 'utf8'));
    const errors = diagnostics
      .filter((d) => d.severity === DiagnosticSeverity.Error)
      .map((d) => `${d.code} at ${d.path.join('/')}: ${d.message}`);
    expect(errors).toEqual([]);
    expect(document?.messages().length).toBeGreaterThan(0);
  });

  it('keeps no payload-local #/definitions reference: nested classes live in components.schemas', () => {
    const text = JSON.stringify(buildAsyncApi());
    expect(text).not.toContain('#/definitions/');
    const schemas = (buildAsyncApi()['components'] as { schemas: Record<string, unknown> }).schemas;
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      expect({ name, defined: name in schemas }).toEqual({ name, defined: true });
    }
  });

  it('requires the headers consumers refuse to miss, with the values they accept', () => {
    const schemas = (buildAsyncApi()['components'] as { schemas: Record<string, object> }).schemas;
    const valid = new Ajv({ strict: false }).compile(schemas['CloudEventHeaders']);
    const headers = attributesToHeaders({
      id: 'e-1',
      source: '/helpdesk',
      type: 'llmbus.request.submitted',
      specversion: '1.0',
      time: '2026-01-01T12:00:00Z',
      correlationid: 'r-1',
      tenantid: 'acme',
      schemaversion: 1,
    });
    expect(valid(headers)).toBe(true);
    const { ce_schemaversion: _version, ...withoutVersion } = headers;
    expect(valid(withoutVersion)).toBe(false);
    expect(valid({ ...headers, ce_tenantid: 'Acme Corp' })).toBe(false);
    expect(valid({ ...headers, ce_tenantid: '_none' })).toBe(true);
    expect(valid({ ...headers, ce_specversion: '0.3' })).toBe(false);
    expect(valid({ ...headers, ce_schemaversion: 'abc' })).toBe(false);
  });
});
