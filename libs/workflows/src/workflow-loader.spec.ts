import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowLoadError } from './errors';
import { compileWorkflowSchema } from './schema-errors';
import { DEFAULT_WORKFLOWS_DIR, parseWorkflowDocument } from './workflow-loader';
import { WorkflowRegistry } from './workflow-registry';

const shippedText = readFileSync(join(DEFAULT_WORKFLOWS_DIR, 'support-ticket.v1.yaml'), 'utf8');

function problemsOf(text: string): string[] {
  try {
    parseWorkflowDocument(text, 'workflows/broken.v1.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowLoadError);
    expect((error as Error).message.startsWith('workflows/broken.v1.yaml: ')).toBe(true);
    return [...(error as WorkflowLoadError).problems];
  }
  throw new Error('expected the document to be rejected');
}

describe('parseWorkflowDocument', () => {
  it('accepts the shipped support-ticket workflow', () => {
    const workflow = parseWorkflowDocument(shippedText, 'support-ticket.v1.yaml');
    expect(workflow).toMatchObject({ id: 'support-ticket', version: 1, source: 'support-ticket.v1.yaml' });
  });

  it('names the field of an out-of-range value', () => {
    expect(problemsOf(shippedText.replace('maxAttempts: 2', 'maxAttempts: 0'))).toContain(
      'validation.maxAttempts: must be >= 1',
    );
  });

  it('names an unknown field and a missing one', () => {
    const problems = problemsOf(
      shippedText
        .replace('onExhaustion: review', 'onExhaustion: review\n  retries: 3')
        .replace(/^description:.*$/m, ''),
    );
    expect(problems).toEqual(
      expect.arrayContaining(['validation.retries: is not a known field', 'description: is required']),
    );
  });

  it('reads the PII policy, and names a bad action or an unknown entity type', () => {
    expect(parseWorkflowDocument(shippedText, 'support-ticket.v1.yaml').pii).toMatchObject({
      outputs: { default: 'allow', PAYMENT_CARD: 'redact' },
    });
    const problems = problemsOf(
      shippedText.replace('audit: { default: mask }', 'audit: { default: hide, PASSPORT: mask }'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'pii.audit.default: must be one of mask, redact, allow',
        'pii.audit.PASSPORT: is not a known field',
      ]),
    );
  });

  it('reads generate.tools and maxToolRounds, and names a bad tool name or round limit', () => {
    const withTools = `${shippedText}\ngenerate:\n  tools: [log_search, restart_service]\n  maxToolRounds: 3\n`;
    expect(parseWorkflowDocument(withTools, 'support-ticket.v1.yaml').generate).toEqual({
      tools: ['log_search', 'restart_service'],
      maxToolRounds: 3,
    });
    expect(parseWorkflowDocument(shippedText, 'support-ticket.v1.yaml').generate).toBeUndefined();
    const problems = problemsOf(
      withTools
        .replace('log_search, restart_service', 'Log-Search')
        .replace('maxToolRounds: 3', 'maxToolRounds: 0'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'generate.tools[0]: must match pattern "^[a-z][a-z0-9_]{0,63}$"',
        'generate.maxToolRounds: must be >= 1',
      ]),
    );
  });

  it('names a bad enum value in a nested rule', () => {
    expect(problemsOf(shippedText.replace('onExhaustion: review', 'onExhaustion: ignore'))).toContain(
      'validation.onExhaustion: must be one of review, fail',
    );
  });

  it('rejects a field condition with two operators', () => {
    const text = shippedText.replace(
      '{ field: input.priority, in: [urgent] }',
      '{ field: input.priority, in: [urgent], equals: high }',
    );
    expect(problemsOf(text)).toContain(
      'match[0].when[0]: must have exactly one operator (equals, in, exists or matches)',
    );
  });

  it('rejects a business rule missing its parameter', () => {
    expect(problemsOf(shippedText.replace('value: 0.3 }', '}'))).toContain(
      'validation.rules[1].value: is required',
    );
  });

  it('compiles each schema once, shared by loader and registry, and lets two workflows use the same $id', () => {
    const withId = (version: number) =>
      parseWorkflowDocument(
        shippedText
          .replace('version: 1', `version: ${version}`)
          .replace(
            'input:\n  schema:\n    type: object',
            'input:\n  schema:\n    $id: urn:example:ticket\n    type: object',
          ),
        `support-ticket.v${version}.yaml`,
      );
    const [first, second] = [withId(1), withId(2)];
    expect(first.input.schema['$id']).toBe('urn:example:ticket');
    const registry = new WorkflowRegistry([first, second]);
    expect(registry.find('support-ticket', 2)?.version).toBe(2);
    expect(compileWorkflowSchema(first.input.schema)).toBe(compileWorkflowSchema(first.input.schema));
    expect(compileWorkflowSchema(first.input.schema)).not.toBe(compileWorkflowSchema(second.input.schema));
  });

  it('rejects an output schema with an unknown keyword', () => {
    const problems = problemsOf(
      shippedText.replace(
        'reply: { type: string, maxLength: 600 }',
        'reply: { type: string, maxLenght: 600 }',
      ),
    );
    expect(
      problems.some((p) => p.startsWith('output.schema: not a valid JSON Schema') && p.includes('maxLenght')),
    ).toBe(true);
  });

  it('accepts an optional output property (adapted per strict request) and refuses what strict mode cannot take, naming the field', () => {
    const optional = shippedText.replace(
      'required: [category, priority, reply, citations, needsHuman, confidence]',
      'required: [category, priority, reply, citations, needsHuman]',
    );
    expect(parseWorkflowDocument(optional, 'support-ticket.v1.yaml').output.schema['required']).toHaveLength(
      5,
    );
    const problems = problemsOf(
      shippedText.replace(
        'reply: { type: string, maxLength: 600 }',
        'reply: { oneOf: [{ type: string }, { type: "null" }] }\n      extra: { type: object }',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^output\.schema\.properties\.reply\.oneOf: .*use `anyOf`/),
        expect.stringMatching(/^output\.schema\.properties\.extra: an object needs `properties`/),
      ]),
    );
  });

  it('rejects placeholders outside input and a user prompt without the passages slot', () => {
    const problems = problemsOf(
      shippedText
        .replace('{{input.subject}}\n    Product', '{{secrets.key}}\n    Product')
        .replace('    {{passages}}\n', ''),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'prompt.user: placeholder {{secrets.key}} must be {{input.<field>}} or {{passages}}',
        'prompt.user: must contain {{passages}} exactly once, where the retrieved passages go',
      ]),
    );
  });

  it('rejects rules on fields the output schema does not declare', () => {
    expect(problemsOf(shippedText.replace('field: output.reply }', 'field: output.answer }'))).toContain(
      'validation.rules[0].field: output.answer is not a property of output.schema',
    );
  });

  it('loads confidence thresholds, forceReview and verify, and rejects inconsistent ones', () => {
    const workflow = parseWorkflowDocument(
      `${shippedText}verify:\n  quotes: true\n`,
      'support-ticket.v1.yaml',
    );
    expect(workflow.validation.confidence).toEqual({
      accept: 0.7,
      retry: 0.45,
      selfReport: 'output.confidence',
    });
    expect(workflow.validation.forceReview).toEqual([
      expect.objectContaining({ field: 'output.needsHuman', equals: true }),
    ]);
    expect(workflow.verify).toEqual({ quotes: true });
    expect(problemsOf(shippedText.replace('retry: 0.45', 'retry: 0.9'))).toContain(
      'validation.confidence: retry (0.9) must not exceed accept (0.7)',
    );
    expect(problemsOf(shippedText.replace('field: output.needsHuman', 'field: output.human'))).toContain(
      'validation.forceReview[0].field: output.human is not a property of output.schema',
    );
    expect(problemsOf(shippedText.replace('accept: 0.7', 'accept: 7'))).toContain(
      'validation.confidence.accept: must be <= 1',
    );
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(problemsOf('id: [unclosed')[0]).toMatch(/^YAML syntax: /);
  });
});
