import { join } from 'node:path';
import type { Passage } from '@llmbus/contracts';
import { decideOutcome } from './outcome';
import { OutputValidator } from './output-validator';
import { parseWorkflowDocument } from './workflow-loader';
import { WorkflowRegistry } from './workflow-registry';

const registry = WorkflowRegistry.fromDirectory(join(__dirname, '..', '..', '..', 'workflows'));
const validator = new OutputValidator();

function passage(id: string, documentId: string, collection: string, text: string, score = 0.03): Passage {
  return {
    id,
    documentId,
    collection,
    title: documentId,
    sourceUri: `kb://${collection}/${documentId}`,
    chunkIndex: 0,
    text,
    score,
  };
}

describe('knowledge-assistant v1', () => {
  const workflow = registry.get('knowledge-assistant', 1);
  const travel = passage(
    'p-travel',
    'travel-expenses',
    'policies',
    'The per diem for meals is €45 per day for domestic trips and €70 per day for international trips.',
  );

  it('routes with the collection priorities as collection weights', () => {
    const { routed } = registry.route({
      requestId: 'r-1',
      eventType: 'question.asked',
      workflow: 'knowledge-assistant',
      input: { question: 'What is the per diem abroad?' },
      requester: { userId: 'sam', groups: ['staff'] },
    });
    expect(routed.retrieval.collections).toEqual(['policies', 'runbooks', 'wiki']);
    expect(routed.retrieval.collectionWeights).toEqual([
      { collection: 'policies', weight: 1.3 },
      { collection: 'runbooks', weight: 1.1 },
      { collection: 'wiki', weight: 0.8 },
    ]);
  });

  it('accepts a grounded answer citing the passage', () => {
    const result = validator.validate(
      workflow,
      {
        text: '',
        output: {
          answer: 'The per diem for meals is €70 per day for international trips.',
          citations: ['p-travel'],
          abstained: false,
          confidence: 0.8,
        },
      },
      [travel],
    );
    expect(result.violations).toEqual([]);
    expect(decideOutcome(workflow, 1, result).kind).toBe('accept');
  });

  it('accepts the abstention sentence although it cites nothing and repeats the prompt', () => {
    const result = validator.validate(
      workflow,
      {
        text: '',
        output: {
          answer: 'I could not find this in the documents you can read.',
          citations: [],
          abstained: true,
          confidence: 0.8,
        },
      },
      [travel],
    );
    expect(result.violations).toEqual([]);
    expect(result.assessment.signals.map((s) => s.name)).not.toContain('grounding');
    expect(decideOutcome(workflow, 1, result).kind).toBe('accept');
  });

  it('does not accept an abstention that cites passages (the local model did both)', () => {
    const result = validator.validate(
      workflow,
      {
        text: '',
        output: {
          answer: 'I could not find this in the documents you can read.',
          citations: ['p-travel'],
          abstained: true,
          confidence: 1,
        },
      },
      [travel],
    );
    expect(result.violations).toEqual([
      'output.abstained: abstains but cites 1 passage(s) in output.citations; an abstention cites nothing',
    ]);
    expect(decideOutcome(workflow, 1, result).kind).not.toBe('accept');
  });

  it('does not accept an answer whose figure the cited passage does not state', () => {
    const result = validator.validate(
      workflow,
      {
        text: '',
        output: {
          answer: 'The per diem for meals is €95 per day for international trips.',
          citations: ['p-travel'],
          abstained: false,
          confidence: 0.9,
        },
      },
      [travel],
    );
    expect(result.assessment.unsupportedClaims).toEqual([
      'output.answer: "€95" (amount) does not occur in the cited passages',
    ]);
    expect(decideOutcome(workflow, 1, result).kind).not.toBe('accept');
  });
});

describe('contract-review v1', () => {
  const workflow = registry.get('contract-review', 1);
  const contract = [
    'Software Services Agreement',
    '3. Fees and Payment',
    '3.1 Invoices are payable within thirty (30) days of receipt, in euros.',
    '5. Limitation of Liability',
    "5.1 The Customer's liability under this Agreement is unlimited.",
  ].join('\n');
  const playbook = [
    passage(
      'pb-liability',
      'liability-cap',
      'playbook',
      "Standard position: each party's total liability is capped at the fees paid in the 12 months before the claim. An uncapped liability needs attorney approval.",
    ),
    passage(
      'pb-payment',
      'payment-terms',
      'playbook',
      'Standard position: invoices are payable within 30 days of receipt, in euros.',
    ),
  ];
  const clause = (
    type: string,
    clauseNumber: string | null,
    summary: string,
    deviation: number,
    citation: string,
  ) => ({
    type,
    clauseNumber,
    summary,
    deviation,
    ...(deviation > 0
      ? { redline: "Cap each party's total liability at the fees paid in the 12 months before the claim." }
      : {}),
    playbookCitation: citation,
  });
  const review = (clauses: ReturnType<typeof clause>[]) =>
    validator.validate(
      workflow,
      {
        text: '',
        input: { title: 'Software Services Agreement', contract },
        output: { clauses, citations: ['pb-liability', 'pb-payment'], needsAttorney: false, confidence: 0.8 },
      },
      playbook,
    );

  it('hands a clause at or above the deviation threshold to attorney review, whatever the model says', () => {
    const result = review([
      clause(
        'paymentTerms',
        '3.1',
        'Clause 3.1: invoices are payable within 30 days of receipt, in euros.',
        0,
        'pb-payment',
      ),
      clause(
        'liabilityCap',
        '5.1',
        "Clause 5.1: the customer's liability is unlimited.",
        0.9,
        'pb-liability',
      ),
    ]);
    expect(result.assessment.unsupportedClaims).toEqual([]);
    const outcome = decideOutcome(workflow, 1, result);
    expect(outcome).toMatchObject({ kind: 'review' });
    expect(outcome.kind === 'review' && outcome.reason).toContain('deviates from the playbook');
  });

  it('flags a clause number the contract does not contain, quoted or in clauseNumber', () => {
    const result = review([
      clause(
        'paymentTerms',
        '14.2',
        'Invoices are payable within 30 days of receipt, in euros.',
        0,
        'pb-payment',
      ),
      clause(
        'liabilityCap',
        '5.1',
        "Clause 7.4: the customer's liability is unlimited.",
        0.2,
        'pb-liability',
      ),
    ]);
    expect(result.assessment.unsupportedClaims).toEqual([
      'output.clauses[1].summary: "Clause 7.4" (reference) does not occur in the cited passages',
      'output.clauses.clauseNumber: "clause 14.2" (reference) does not occur in the cited passages',
    ]);
    expect(decideOutcome(workflow, 1, result).kind).not.toBe('accept');
  });

  it('routes a contract given by reference with the document for the retriever to read', () => {
    const route = (input: Record<string, unknown>) =>
      registry.route({
        requestId: 'r-ref',
        eventType: 'contract.submitted',
        input,
        requester: { userId: 'lee', groups: ['legal'] },
      });
    const { routed } = route({ title: 'MSA', documentId: 'msa-2026' });
    expect(routed.retrieval.document).toEqual({ documentId: 'msa-2026', into: 'contract', maxChars: 40000 });
    expect(route({ title: 'MSA', contract }).routed.retrieval.document).toBeUndefined();
    // One or the other, and a reference must be a document id.
    expect(() => route({ title: 'MSA', contract, documentId: 'msa-2026' })).toThrow(/input does not match/);
    expect(() => route({ title: 'MSA' })).toThrow(/input does not match/);
    expect(() => route({ title: 'MSA', documentId: '../etc/passwd' })).toThrow(/documentId/);
  });

  it('accepts findings within the playbook that quote the contract exactly', () => {
    const result = review([
      clause(
        'paymentTerms',
        '3.1',
        'Clause 3.1: invoices are payable within 30 days of receipt, in euros.',
        0,
        'pb-payment',
      ),
    ]);
    expect(result.violations).toEqual([]);
    expect(result.assessment.unsupportedClaims).toEqual([]);
    expect(decideOutcome(workflow, 1, result).kind).toBe('accept');
  });
});

describe('workflow file checks for the new keys', () => {
  const base = (extra: string) => `
id: t
version: 1
description: test
match: []
model: { tier: small, budget: { maxOutputTokens: 10, maxCostUsd: 0 } }
input: { schema: { type: object, properties: { text: { type: string } } } }
retrieval: { collections: [a], topK: 1, query: "{{input.text}}"${extra.includes('priorities') ? ', priorities: { b: 2 }' : ''} }
prompt: { id: p, version: 1, system: s, user: "{{passages}}" }
output:
  schema:
    type: object
    additionalProperties: false
    required: [items]
    properties:
      items: { type: array, items: { type: object, additionalProperties: false, required: [n], properties: { n: { type: number } } } }
validation:
  maxAttempts: 1
  stricterInstruction: again
  rules: []
  onExhaustion: review
${extra.includes('priorities') ? '' : extra}
`;

  it('accepts forceReview atLeast through an array and names wrong paths', () => {
    expect(() =>
      parseWorkflowDocument(base('  forceReview: [{ field: output.items.n, atLeast: 0.5 }]'), 't.v1.yaml'),
    ).not.toThrow();
    expect(() => parseWorkflowDocument(base('  abstention: { field: output.nope }'), 't.v1.yaml')).toThrow(
      'validation.abstention.field: output.nope is not a property of output.schema',
    );
    expect(() =>
      parseWorkflowDocument(
        base('  forceReview: [{ field: output.items.n, atLeast: 1, equals: 2 }]'),
        't.v1.yaml',
      ),
    ).toThrow(/forceReview/);
  });

  it('refuses a priority for a collection the workflow does not search', () => {
    expect(() => parseWorkflowDocument(base('priorities'), 't.v1.yaml')).toThrow(
      'retrieval.priorities.b: not one of retrieval.collections',
    );
  });
});
