import type { Passage } from '@llmbus/contracts';
import { decideOutcome } from './outcome';
import { OutputValidator } from './output-validator';
import { WorkflowRegistry } from './workflow-registry';

const workflow = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
const validator = new OutputValidator();
const passages: Passage[] = ['kb-1', 'kb-2'].map((id) => ({
  id,
  documentId: 'd',
  collection: 'product-docs',
  title: id,
  sourceUri: `kb://${id}`,
  chunkIndex: 0,
  text: 'text',
  score: 1,
}));

const good = {
  category: 'account',
  priority: 'high',
  reply: 'Use the reset link on the login page.',
  citations: ['kb-1'],
  needsHuman: false,
  confidence: 0.8,
};

describe('OutputValidator', () => {
  it('accepts a schema-valid, grounded, confident output and returns its citations', () => {
    const result = validator.validate(workflow, { output: good, text: JSON.stringify(good) }, passages);
    expect(result).toMatchObject({ valid: true, violations: [], citations: ['kb-1'] });
  });

  it('parses the raw text when no parsed output is given', () => {
    expect(validator.validate(workflow, { text: JSON.stringify(good) }, passages).valid).toBe(true);
    expect(validator.validate(workflow, { text: 'Sure! Here is your answer' }, passages)).toMatchObject({
      valid: false,
      violations: ['output: the answer is not a JSON object'],
    });
  });

  it('reports schema violations by field', () => {
    const bad = { ...good, category: 'sales', reply: 'x'.repeat(700) };
    const { violations } = validator.validate(workflow, { output: bad, text: '' }, passages);
    expect(violations).toEqual(
      expect.arrayContaining([
        'output.category: must be one of "billing", "technical", "account", "other"',
        'output.reply: must NOT have more than 600 characters',
      ]),
    );
  });

  it('fails grounding for an invented citation and keeps only the retrieved ones', () => {
    const result = validator.validate(
      workflow,
      { output: { ...good, citations: ['kb-2', 'kb-999'] }, text: '' },
      passages,
    );
    expect(result.valid).toBe(false);
    expect(result.violations).toEqual([
      'output.citations[1]: "kb-999" is not the id of a passage retrieved for this request',
    ]);
    expect(result.citations).toEqual(['kb-2']);
  });

  it('applies business rules: empty reply and low confidence', () => {
    const result = validator.validate(
      workflow,
      { output: { ...good, reply: '  ', confidence: 0.1 }, text: '' },
      passages,
    );
    expect(result.violations).toEqual([
      'output.reply: must not be empty',
      'output.confidence: is 0.1, below the minimum of 0.3',
    ]);
  });

  it('flags forbidden phrases whatever their case', () => {
    const reply = 'You get a Guaranteed Refund. As an AI language model I cannot say more.';
    const result = validator.validate(workflow, { output: { ...good, reply }, text: '' }, passages);
    expect(result.violations).toEqual([
      'output.reply: contains forbidden phrase(s): "as an ai language model", "guaranteed refund"',
    ]);
  });
});

describe('decideOutcome', () => {
  const invalid = { valid: false, violations: ['output.reply: must not be empty'], citations: [] };

  it('retries with the stricter instruction while attempts remain, then escalates to review', () => {
    expect(decideOutcome(workflow, 1, invalid)).toEqual({
      kind: 'retry',
      nextAttempt: 2,
      instruction: workflow.validation.stricterInstruction,
    });
    expect(decideOutcome(workflow, 2, invalid)).toEqual({
      kind: 'review',
      reason: expect.stringMatching(/after 2 of 2.*reply: must not be empty/),
    });
    expect(decideOutcome(workflow, 1, { ...invalid, valid: true, violations: [] })).toEqual({
      kind: 'accept',
    });
  });

  it('fails the request when the workflow says so', () => {
    const failing = { ...workflow, validation: { ...workflow.validation, onExhaustion: 'fail' as const } };
    expect(decideOutcome(failing, 2, invalid).kind).toBe('fail');
  });
});
