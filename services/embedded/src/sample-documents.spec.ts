import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllSampleDocuments, SAMPLE_DOCUMENT_FOLDERS } from './sample-documents';

const SAMPLES = join(__dirname, '..', '..', '..', 'samples');

describe('loadAllSampleDocuments (what npm start indexes)', () => {
  const sets = loadAllSampleDocuments(SAMPLES);
  const documents = sets.flatMap((set) => set.documents);

  it('indexes the product docs and the approved runbooks, for tenant demo', () => {
    expect(sets).toHaveLength(SAMPLE_DOCUMENT_FOLDERS.length);
    expect(sets.map((set) => set.tenant)).toEqual(['demo', 'demo']);
    expect([...new Set(documents.map((d) => d.collection))].sort()).toEqual(['product-docs', 'runbooks']);
    expect(new Set(documents.map((d) => d.documentId)).size).toBe(documents.length);
  });

  it('includes the runbook every sample alert points at', () => {
    const runbooks = new Set(documents.filter((d) => d.collection === 'runbooks').map((d) => d.documentId));
    const alertDir = join(SAMPLES, 'alerts');
    for (const name of readdirSync(alertDir).filter((f) => f.endsWith('.json'))) {
      const body = JSON.parse(readFileSync(join(alertDir, name), 'utf8')) as {
        input: { alerts: { annotations: Record<string, string> }[] };
      };
      for (const alert of body.input.alerts) {
        expect(runbooks).toContain((alert.annotations['runbook_url'] ?? '').replace(/^runbooks\//, ''));
      }
    }
  });
});
