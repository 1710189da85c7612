import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Passage } from '@llmbus/contracts';
import { DatasetError, type EvalItem, loadDataset } from './dataset';
import type { ItemRun } from './eval-runner';
import { renderHtmlReport } from './html-report';
import { type EvalReport, judgeItem, selectPath, summarise } from './metrics';
import { SCRIPTED_MODEL, ScriptedModelServer } from './scripted-model-server';

const DATASETS = join(__dirname, '..', '..', '..', '..', 'eval', 'workflows');

describe('shipped datasets', () => {
  it.each(['knowledge-assistant', 'support-ticket', 'contract-review'])(
    '%s has at least 40 items, with abstain or escalate and adversarial ones, and a readable corpus',
    (workflow) => {
      const dataset = loadDataset(join(DATASETS, `${workflow}.jsonl`));
      expect(dataset.items.length).toBeGreaterThanOrEqual(40);
      expect(dataset.items.every((i) => i.workflow === workflow)).toBe(true);
      const special = dataset.items.filter((i) => i.expected.mustAbstain || i.expected.mustEscalate);
      expect(special.length).toBeGreaterThanOrEqual(8);
      expect(dataset.items.filter((i) => i.tags.includes('adversarial')).length).toBeGreaterThanOrEqual(3);
      const documents = [...dataset.corpora.values()].flatMap((c) => c.documents.map((d) => d.documentId));
      for (const item of dataset.items)
        for (const cited of item.expected.citations ?? []) expect(documents).toContain(cited);
    },
  );
});

describe('loadDataset', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmbus-dataset-'));
  const write = (name: string, lines: string[]) => {
    writeFileSync(join(dir, name), lines.join('\n'));
    return join(dir, name);
  };
  const good = {
    id: 'a',
    workflow: 'w',
    eventType: 'x.y',
    requester: { groups: [] },
    input: {},
    expected: {},
  };

  it('names the line and field of a bad item', () => {
    const file = write('bad.jsonl', [
      JSON.stringify(good),
      JSON.stringify({ ...good, id: 'b', expected: { mustAbstain: 'yes' } }),
    ]);
    expect(() => loadDataset(file)).toThrow(DatasetError);
    expect(() => loadDataset(file)).toThrow(`${file}:2: expected.mustAbstain must be boolean`);
  });

  it('refuses a repeated id and a missing corpus', () => {
    expect(() => loadDataset(write('dup.jsonl', [JSON.stringify(good), JSON.stringify(good)]))).toThrow(
      'id a is used by an earlier item',
    );
    expect(() =>
      loadDataset(write('corpus.jsonl', [JSON.stringify({ ...good, corpus: 'nope/manifest.json' })])),
    ).toThrow(/corpus .*nope\/manifest.json/);
  });

  it('defaults the tenant and tags and skips blank and comment lines', () => {
    const dataset = loadDataset(write('ok.jsonl', ['// a comment', '', JSON.stringify(good)]));
    expect(dataset.items).toEqual([{ ...good, tenant: 'eval', tags: [] }]);
  });
});

function item(overrides: Partial<EvalItem> = {}): EvalItem {
  return {
    id: 'q1',
    workflow: 'knowledge-assistant',
    eventType: 'question.asked',
    tenant: 't',
    requester: { groups: [] },
    input: { question: 'What is the per diem for meals abroad?' },
    expected: {},
    tags: [],
    ...overrides,
  };
}

describe('ScriptedModelServer', () => {
  const prompt = (question: string, passages: [string, string, string][]) =>
    `<request>\nQuestion: ${question}\n</request>\n<passages>\n` +
    passages
      .map(
        ([id, doc, text]) =>
          `<passage id="${id}" title="T" source="kb://policies/${doc}">\n${text}\n</passage>`,
      )
      .join('\n') +
    '\n</passages>';
  const answer = {
    answer: 'The per diem for meals is €70 per day for international trips.',
    citations: ['@doc:travel'],
    abstained: false,
  };
  const abstain = {
    answer: 'I could not find this in the documents you can read.',
    citations: [],
    abstained: true,
  };

  it('answers the item whose input is in the prompt, citing the passage of the document that says it', () => {
    const server = new ScriptedModelServer();
    server.register([item({ scripted: { output: answer, fallback: abstain } })]);
    const text = server.answer(
      prompt('What is the per diem for meals abroad?', [
        ['p-hotel', 'travel', 'The hotel cap is €180 per night.'],
        ['p-meals', 'travel', 'The per diem for meals is €70 per day for international trips.'],
      ]),
    );
    expect(JSON.parse(text)).toEqual({ ...answer, citations: ['p-meals'] });
  });

  it('falls back (as a competent model without the source would) when the cited document is not in the prompt', () => {
    const server = new ScriptedModelServer();
    server.register([item({ scripted: { output: answer, fallback: abstain } })]);
    expect(JSON.parse(server.answer(prompt('What is the per diem for meals abroad?', [])))).toEqual(abstain);
    expect(server.stats).toEqual({ answered: 0, fallbacks: 1, unmatched: 0 });
  });

  it('tells items with the same input apart by the passages the asker may read', () => {
    const server = new ScriptedModelServer();
    server.register([
      item({ id: 'hr', scripted: { output: answer } }),
      item({ id: 'staff', scripted: { output: abstain } }),
    ]);
    const question = 'What is the per diem for meals abroad?';
    expect(JSON.parse(server.answer(prompt(question, [['p-1', 'travel', 'per diem €70']]))).abstained).toBe(
      false,
    );
    expect(JSON.parse(server.answer(prompt(question, [])))).toEqual(abstain);
  });

  it('serves OpenAI chat completions over HTTP, naming itself scripted, and answers {} to an unknown prompt', async () => {
    const server = new ScriptedModelServer();
    server.register([item({ scripted: { output: abstain } })]);
    const url = await server.start();
    try {
      const response = await fetch(`${url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'x',
          messages: [{ role: 'user', content: 'something else entirely' }],
        }),
      });
      const body = (await response.json()) as { model: string; choices: { message: { content: string } }[] };
      expect(body.model).toBe(SCRIPTED_MODEL);
      expect(body.choices[0]!.message.content).toBe('{}');
      expect(server.stats.unmatched).toBe(1);
    } finally {
      await server.stop();
    }
  });
});

describe('judging and figures', () => {
  const passages: Passage[] = [
    {
      id: 'p-1',
      documentId: 'travel',
      collection: 'policies',
      title: 'T',
      sourceUri: 'kb://policies/travel',
      chunkIndex: 0,
      text: '',
      score: 1,
    },
    {
      id: 'p-2',
      documentId: 'wiki-tips',
      collection: 'wiki',
      title: 'W',
      sourceUri: 'kb://wiki/wiki-tips',
      chunkIndex: 0,
      text: '',
      score: 1,
    },
  ];
  const facts = { citationsField: 'output.citations', abstentionField: 'output.abstained' };
  const run = (overrides: Partial<ItemRun>): ItemRun => ({
    item: item({ expected: { contains: { 'output.answer': ['€70'] }, citations: ['travel'] } }),
    requestId: 'r',
    outcome: 'completed',
    workflowVersion: 'knowledge-assistant@v1',
    latencyMs: 100,
    passages,
    output: { answer: 'It is €70 per day.', citations: ['p-1'], abstained: false },
    assessment: {
      confidence: 0.8,
      signals: [{ name: 'schema', score: 1, weight: 0 }],
      sentences: [{ field: 'output.answer', sentence: 'It is €70 per day.', support: 0.9 }],
      unsupportedClaims: [],
    },
    ...overrides,
  });

  it('selects array elements by key', () => {
    const output = {
      clauses: [
        { type: 'a', n: '1.1' },
        { type: 'b', n: '2.1' },
      ],
    };
    expect(selectPath({ output }, 'output.clauses[type=b].n')).toBe('2.1');
    expect(selectPath({ output }, 'output.clauses[type=c].n')).toBeUndefined();
  });

  it('counts a released wrong answer as accepted-but-wrong, an escalation as not, and maps citations to documents', () => {
    const right = judgeItem(run({}), facts);
    const wrong = judgeItem(
      run({ output: { answer: 'It is €35.', citations: ['p-2', 'p-9'], abstained: false } }),
      facts,
    );
    const escalated = judgeItem(run({ outcome: 'review' }), facts);
    expect(right).toMatchObject({
      success: true,
      acceptedButWrong: false,
      citedDocuments: ['travel'],
      schemaValid: true,
    });
    expect(wrong).toMatchObject({
      success: false,
      acceptedButWrong: true,
      citedDocuments: ['wiki-tips', '?p-9'],
    });
    expect(wrong.failures).toEqual(['output.answer lacks "€70"']);
    expect(escalated).toMatchObject({ success: false, acceptedButWrong: false });

    const items = [right, wrong, escalated].map((v, i) => ({ ...v, id: `q${i}` }));
    const labelled = items.map((v) => item({ id: v.id, expected: { citations: ['travel'] } }));
    const [figures] = summarise(items, labelled);
    expect(figures).toMatchObject({
      items: 3,
      taskSuccess: 0.333,
      acceptedButWrongRate: 0.333,
      escalationRate: 0.333,
      citationPrecision: 0.5, // travel twice right; wiki-tips and an invented id wrong
      citationRecall: 0.667,
    });
    expect(figures!.outcomes.completed!.count).toBe(2);
  });

  it('judges abstention and escalation labels', () => {
    const abstained = run({
      item: item({ expected: { mustAbstain: true } }),
      output: { answer: 'not found', citations: [], abstained: true },
    });
    expect(judgeItem(abstained, facts).success).toBe(true);
    const answered = run({ item: item({ expected: { mustAbstain: true } }) });
    expect(judgeItem(answered, facts)).toMatchObject({
      success: false,
      acceptedButWrong: true,
      failures: ['must abstain, answered'],
    });
    const escalate = run({ item: item({ expected: { mustEscalate: true } }), outcome: 'review' });
    expect(judgeItem(escalate, facts).success).toBe(true);
  });

  it('writes an HTML report that loads nothing from the web', () => {
    const verdicts = [judgeItem(run({}), facts)];
    const report: EvalReport = {
      dataset: 'd.jsonl',
      workflow: 'knowledge-assistant',
      mode: 'embedded',
      model: 'scripted',
      startedAt: new Date(0).toISOString(),
      durationMs: 1,
      versions: summarise(verdicts, [item()]),
      items: verdicts,
    };
    const html = renderHtmlReport(report);
    expect(html).toContain('new Chart(');
    expect(html).toMatch(/Chart\.js v4/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/cdn/i);
  });
});

describe('evaluate', () => {
  it('refuses a workflow id the workflow directory does not define, naming the ones it does', async () => {
    const { evaluate } = await import('./evaluate');
    const { default: pino } = await import('pino');
    await expect(
      evaluate({
        workflow: 'nope',
        datasetPath: join(__dirname, '../../../../eval/workflows/support-ticket.jsonl'),
        mode: 'embedded',
        model: 'scripted',
        env: {},
        logger: pino({ level: 'silent' }),
        outDir: mkdtempSync(join(tmpdir(), 'eval-')),
      }),
    ).rejects.toThrow(
      /unknown workflow nope: .* defines contract-review, it-runbook, knowledge-assistant, support-ticket \(or use all\)/,
    );
  });
});
