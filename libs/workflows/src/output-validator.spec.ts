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

  it('passes on why the provider refused a structured answer, for the retry and the reviewer', () => {
    const text =
      '[the model\'s answer was not valid output: structured output for schema "answer" was cut off at the token limit (maxTokens 500)]';
    expect(validator.validate(workflow, { text }, passages).violations).toEqual([
      'output: the answer is not a JSON object the schema accepts (structured output for schema "answer" was cut off at the token limit (maxTokens 500))',
    ]);
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

describe('OutputValidator: evidence-based confidence', () => {
  const docs: Passage[] = [
    {
      ...passages[0],
      id: 'reset',
      text: 'The reset link is valid for 30 minutes and can be used once. If nothing arrives after 15 minutes, request a new link.',
      score: 0.033,
    },
    {
      ...passages[0],
      id: 'billing',
      text: 'Yearly plans can be refunded within 14 days of purchase.',
      score: 0.016,
    },
  ];
  const answer = (reply: string, extra: Record<string, unknown> = {}) => ({
    output: { ...good, reply, citations: ['reset'], ...extra },
    text: '',
  });
  const confidenceOf = (reply: string, extra: Record<string, unknown> = {}) =>
    validator.validate(workflow, answer(reply, extra), docs).assessment.confidence;

  it('records per-sentence lexical support and scores a grounded reply above an ungrounded one', () => {
    const grounded = validator.validate(
      workflow,
      answer(
        'Hi Dana! The reset link is valid for 30 minutes. If nothing arrives after 15 minutes, request a new link.',
      ),
      docs,
    );
    expect(grounded.assessment.sentences).toEqual([
      { field: 'output.reply', sentence: 'The reset link is valid for 30 minutes.', support: 1 },
      {
        field: 'output.reply',
        sentence: 'If nothing arrives after 15 minutes, request a new link.',
        support: 1,
      },
    ]);
    const invented =
      'Our engineers restored the mail server yesterday, so your invitation should show up shortly.';
    const ungrounded = validator.validate(workflow, answer(invented), docs);
    expect(ungrounded.assessment.sentences[0].support).toBeLessThan(0.2);
    expect(ungrounded.concerns).toEqual([expect.stringMatching(/^output\.reply: ".*" is weakly supported/)]);
    expect(grounded.assessment.confidence).toBeGreaterThanOrEqual(workflow.validation.confidence!.accept);
    expect(ungrounded.assessment.confidence).toBeLessThan(workflow.validation.confidence!.accept);
  });

  it('counts the retrieval strength of what is cited, relative to the best passage', () => {
    const reply = 'The reset link is valid for 30 minutes.';
    const signal = (citations: string[]) =>
      validator
        .validate(workflow, answer(reply, { citations }), docs)
        .assessment.signals.find((s) => s.name === 'retrieval')?.score;
    expect(signal(['reset'])).toBe(1);
    expect(signal(['billing'])).toBeCloseTo(0.485, 2);
    expect(signal([])).toBe(0);
  });

  it("weighs the model's self-report weakly: from 0 to 1 it moves confidence by at most 0.15", () => {
    const reply = 'The reset link is valid for 30 minutes.';
    const spread = confidenceOf(reply, { confidence: 1 }) - confidenceOf(reply, { confidence: 0.3 });
    expect(spread).toBeGreaterThan(0);
    expect(spread).toBeLessThanOrEqual(0.15);
  });

  it('gives a schema-invalid output confidence 0', () => {
    expect(confidenceOf('The reset link is valid for 30 minutes.', { category: 'sales' })).toBe(0);
  });

  it("flags a reply that copies the prompt's instructions, even reworded in case and punctuation", () => {
    const result = validator.validate(
      workflow,
      answer('The reply to the customer -- at most 600 characters.'),
      docs,
    );
    expect(result.violations).toEqual([
      "output.reply: copies the prompt's instructions (100% of its word trigrams) instead of answering",
    ]);
  });

  it("flags a copy of the rendered prompt's system message, for each system text the workflow renders", () => {
    const prompt = (system: string) =>
      JSON.stringify([
        { role: 'system', content: system },
        { role: 'user', content: '<request>Where is my reset link?</request>' },
      ]);
    const copied = 'Escalate every ticket about the Zephyr migration to the platform desk at once.';
    const problems = (renderedPrompt: string) =>
      validator.validate(workflow, { ...answer(copied), renderedPrompt }, docs).violations;
    const copies =
      "output.reply: copies the prompt's instructions (100% of its word trigrams) instead of answering";
    // The trigrams are kept per system text: another text of the same workflow is not the first's.
    expect(problems(prompt(copied))).toEqual([copies]);
    expect(problems(prompt('Answer from the passages.'))).toEqual([]);
    expect(problems(prompt(`Answer from the passages.\n${copied}`))).toEqual([copies]);
    expect(problems(prompt('Answer from the passages.'))).toEqual([]);
  });

  it('flags placeholder, repeated and blank text', () => {
    const problems = (reply: string) => validator.validate(workflow, answer(reply), docs).violations;
    expect(problems('N/A')).toEqual(['output.reply: is placeholder text ("N/A"), not an answer']);
    expect(problems('reply')).toEqual(['output.reply: is placeholder text ("reply"), not an answer']);
    expect(problems('ok ok ok ok')).toEqual(['output.reply: repeats one word ("ok") instead of answering']);
    expect(problems(' ... ')).toEqual(['output.reply: must not be empty']);
  });

  it('with verify.quotes lists quoted figures the cited passages lack and lowers confidence', () => {
    const verifying = { ...workflow, verify: { quotes: true } };
    const reply =
      'The reset link is valid for 60 minutes. If nothing arrives after 15 minutes, request a new link.';
    const result = validator.validate(verifying, answer(reply), docs);
    expect(result.assessment.unsupportedClaims).toEqual([
      'output.reply: "60 minutes" (amount) does not occur in the cited passages',
    ]);
    expect(result.concerns).toContain(
      'output.reply: "60 minutes" (amount) does not occur in the cited passages',
    );
    expect(result.assessment.signals).toContainEqual({ name: 'quotes', score: 0.5, weight: 0 });
    const unverified = validator.validate(workflow, answer(reply), docs).assessment.confidence;
    expect(result.assessment.confidence).toBeCloseTo(unverified / 2, 2);
  });
});

describe('decideOutcome', () => {
  const assessment = (confidence: number) => ({
    confidence,
    signals: [],
    sentences: [],
    unsupportedClaims: [],
  });
  const invalid = {
    valid: false,
    violations: ['output.reply: must not be empty'],
    citations: [],
    output: good,
    assessment: assessment(0.9),
    concerns: [],
  };
  const valid = (confidence: number, concerns: string[] = []) => ({
    ...invalid,
    valid: true,
    violations: [],
    assessment: assessment(confidence),
    concerns,
  });

  it('retries with the stricter instruction while attempts remain, then escalates to review', () => {
    expect(decideOutcome(workflow, 1, invalid)).toEqual({
      kind: 'retry',
      nextAttempt: 2,
      instruction: workflow.validation.stricterInstruction,
      problems: ['output.reply: must not be empty'],
    });
    expect(decideOutcome(workflow, 2, invalid)).toMatchObject({
      kind: 'review',
      reason: expect.stringMatching(/after 2 of 2.*reply: must not be empty/),
    });
    expect(decideOutcome(workflow, 1, valid(0.9))).toEqual({ kind: 'accept' });
  });

  it('accepts at the accept threshold, retries between the thresholds, escalates below retry', () => {
    const { accept, retry } = workflow.validation.confidence!;
    expect(decideOutcome(workflow, 1, valid(accept)).kind).toBe('accept');
    const between = decideOutcome(
      workflow,
      1,
      valid((accept + retry) / 2, ['output.reply: "x" is weakly supported']),
    );
    expect(between).toMatchObject({
      kind: 'retry',
      problems: [
        expect.stringMatching(/below the workflow's accept threshold/),
        'output.reply: "x" is weakly supported',
      ],
    });
    expect(decideOutcome(workflow, 2, valid((accept + retry) / 2))).toMatchObject({
      kind: 'review',
      reason: expect.stringMatching(/stayed below the confidence to accept after 2 of 2/),
    });
    expect(decideOutcome(workflow, 1, valid(retry - 0.01))).toMatchObject({
      kind: 'review',
      reason: expect.stringMatching(/below the workflow's retry threshold/),
    });
  });

  it('with a cascade, escalates a below-retry output to the next tier instead of review, while one is left', () => {
    const { retry } = workflow.validation.confidence!;
    const cascading = { ...workflow, model: { ...workflow.model, cascade: ['small', 'large'] as const } };
    expect(decideOutcome(cascading, 1, valid(retry - 0.01), undefined, 'small')).toMatchObject({
      kind: 'retry',
      nextAttempt: 2,
      problems: expect.arrayContaining([
        expect.stringMatching(/the cascade escalates to the large tier/),
      ]) as unknown,
    });
    // On the last tier (attempt 2, or a request routed to large from the start) it goes to review.
    expect(decideOutcome(cascading, 2, valid(retry - 0.01), undefined, 'small').kind).toBe('review');
    expect(decideOutcome(cascading, 1, valid(retry - 0.01), undefined, 'large').kind).toBe('review');
  });

  it('sends an output that asks for a human to review, however confident', () => {
    const outcome = decideOutcome(workflow, 1, { ...valid(1), output: { ...good, needsHuman: true } });
    expect(outcome).toMatchObject({ kind: 'review', reason: expect.stringMatching(/needsHuman is true/) });
  });

  it('accepts any output without violations when the workflow sets no thresholds', () => {
    const lenient = {
      ...workflow,
      validation: { ...workflow.validation, confidence: undefined, forceReview: undefined },
    };
    expect(decideOutcome(lenient, 1, valid(0.01)).kind).toBe('accept');
  });

  it('fails the request when the workflow says so', () => {
    const failing = { ...workflow, validation: { ...workflow.validation, onExhaustion: 'fail' as const } };
    expect(decideOutcome(failing, 2, invalid).kind).toBe('fail');
  });
});
