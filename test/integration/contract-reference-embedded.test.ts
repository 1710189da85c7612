// Contract review with the contract given by reference to an ingested document, on the embedded
// pipeline (the five stages in this process, PGlite, local MiniLM embeddings) with the eval
// harness's scripted competent model (an OpenAI-compatible server answering per item; scripted,
// not a model). The contract is ingested with aclGroups [legal]: a legal requester gets findings
// on it, anyone else gets invalid_input that says nothing of its content, and so does a reference
// to a document that does not exist (the two are indistinguishable by design).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@llmbus/observability';
import { type EvalItem, evaluate, loadDataset } from '@llmbus/svc-embedded';

jest.setTimeout(900_000);

const DATASETS = join(__dirname, '..', '..', 'eval', 'workflows');

describe('contract review by reference to an ingested document (embedded pipeline, scripted model)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-contract-ref-'));
  const shipped = loadDataset(join(DATASETS, 'contract-review.jsonl'));
  const original = shipped.items.find((i) => i.id === 'cr-01')!;
  const contract = String(original.input['contract']);
  const playbook = [...shipped.corpora.values()][0]!;

  beforeAll(() => {
    mkdirSync(join(dir, 'corpus'));
    const documents = playbook.documents.map((d) => {
      const file = `corpus/${d.documentId}.md`;
      writeFileSync(join(dir, file), d.content);
      return { file, documentId: d.documentId, collection: d.collection, aclGroups: [...d.aclGroups] };
    });
    writeFileSync(join(dir, 'corpus', 'msa-northwind.txt'), contract);
    documents.push({
      file: 'corpus/msa-northwind.txt',
      documentId: 'msa-northwind',
      collection: 'contracts',
      aclGroups: ['legal'],
    });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ documents }));
    const { contract: _inline, ...rest } = original.input;
    const byReference = { ...rest, documentId: 'msa-northwind' };
    const item = (id: string, groups: string[], input: Record<string, unknown>): EvalItem => ({
      ...original,
      id,
      corpus: 'manifest.json',
      requester: { userId: id, groups },
      input,
    });
    const items = [
      item('by-reference-legal', ['legal'], byReference),
      item('by-reference-sales', ['sales'], byReference),
      item('missing-document', ['legal'], {
        ...byReference,
        title: 'Unknown agreement',
        documentId: 'msa-nobody',
      }),
    ];
    writeFileSync(join(dir, 'dataset.jsonl'), items.map((i) => JSON.stringify(i)).join('\n'));
  });

  it('reviews the referenced contract for a reader and refuses everyone else without leaking it', async () => {
    const { report } = await evaluate({
      workflow: 'contract-review',
      datasetPath: join(dir, 'dataset.jsonl'),
      mode: 'embedded',
      model: 'scripted',
      env: { ...process.env, LOG_LEVEL: 'fatal' },
      logger: createLogger({ service: 'contract-ref', level: 'fatal' }),
      outDir: join(dir, 'report'),
      concurrency: 1,
      itemTimeoutMs: 300_000,
    });
    const verdict = (id: string) => report.items.find((i) => i.id === id)!;

    // The reader: the same findings as for the inline contract, clause numbers verified against
    // the text read from the store.
    const legal = verdict('by-reference-legal');
    expect({ outcome: legal.outcome, success: legal.success, failures: legal.failures }).toEqual({
      outcome: 'completed',
      success: true,
      failures: [],
    });
    expect(legal.unsupportedQuotes).toEqual([]);

    // Not a reader, and no such document: the same refusal, naming the reference and nothing of the text.
    for (const id of ['by-reference-sales', 'missing-document']) {
      const refused = verdict(id);
      expect(refused.outcome).toBe('failed');
      expect(refused.reason).toMatch(/^invalid_input: input references document "msa-(northwind|nobody)"/);
      expect(refused.reason).toContain('that this requester may read');
      for (const secret of ['Northwind Analytics BV', 'twelve (12) months', 'German law'])
        expect(refused.reason).not.toContain(secret);
    }
    expect(readFileSync(join(dir, 'report', 'dataset-scripted.json'), 'utf8')).toContain(
      'by-reference-legal',
    );
  });
});
