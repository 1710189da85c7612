import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
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
});
