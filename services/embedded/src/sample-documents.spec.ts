import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAllSampleDocuments, loadDocumentFolders, SAMPLE_DOCUMENT_FOLDERS } from './sample-documents';

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

describe('loadDocumentFolders (LLMBUS_DOCUMENTS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-documents-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads each folder with its tenant, and the supersession fields of each entry', () => {
    mkdirSync(join(dir, 'acme'));
    writeFileSync(join(dir, 'acme', 'travel-2024.md'), '# Travel policy 2024\nMeals: 45 euros a day.');
    writeFileSync(join(dir, 'acme', 'notes.txt'), 'Plain notes.');
    writeFileSync(
      join(dir, 'acme', 'manifest.json'),
      JSON.stringify({
        tenant: 'acme',
        documents: [
          {
            file: 'travel-2024.md',
            collection: 'policies',
            aclGroups: [],
            supersedes: ['travel-2023'],
            effectiveDate: '2024-01-01',
            versionLabel: '2024.2',
          },
          { file: 'notes.txt', collection: 'wiki', aclGroups: ['hr'], documentId: 'hr-notes', version: 3 },
        ],
      }),
    );
    const [set] = loadDocumentFolders(` ${join(dir, 'acme')} ,`);
    expect(set.tenant).toBe('acme');
    expect(set.documents).toEqual([
      expect.objectContaining({
        documentId: 'travel-2024',
        title: 'Travel policy 2024',
        contentType: 'text/markdown',
        version: 1,
        supersedes: ['travel-2023'],
        effectiveDate: '2024-01-01',
        versionLabel: '2024.2',
      }),
      expect.objectContaining({
        documentId: 'hr-notes',
        collection: 'wiki',
        contentType: 'text/plain',
        aclGroups: ['hr'],
        version: 3,
      }),
    ]);
    expect(set.documents[1]).not.toHaveProperty('supersedes');
  });

  it('is empty when unset, and names the variable and the folder when one cannot be read', () => {
    expect(loadDocumentFolders(undefined)).toEqual([]);
    expect(() => loadDocumentFolders(join(dir, 'missing'))).toThrow(
      /^LLMBUS_DOCUMENTS: cannot load .*missing \(a folder with a manifest\.json/,
    );
  });
});
