import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Classification, RequestSubmitted } from '@llmbus/contracts';
import { ModelError, ScriptedModelProvider } from '@llmbus/models';
import { UNKNOWN_LABEL } from './classifier-examples';
import { WorkflowLoadError } from './errors';
import { knnVote, RequestClassifier } from './request-classifier';
import type { LoadedWorkflow } from './workflow-definition';
import { parseWorkflowDocument } from './workflow-loader';
import { WorkflowRegistry } from './workflow-registry';

const EXAMPLES = [
  { text: 'charged twice refund invoice payment', label: 'billing' },
  { text: 'refund my yearly plan payment', label: 'billing' },
  { text: 'invoice vat payment card', label: 'billing' },
  { text: 'password reset email login', label: 'account' },
  { text: 'locked account login password', label: 'account' },
  { text: 'two factor login code account', label: 'account' },
];

/** A workflow file with a classifier, written with its examples to a fresh folder. */
function classifiedWorkflow(
  classify: string,
  match = '  - eventType: { equals: ticket.created }',
  extra = '',
): LoadedWorkflow {
  const dir = mkdtempSync(join(tmpdir(), 'classify-spec-'));
  writeFileSync(join(dir, 'tickets.jsonl'), EXAMPLES.map((e) => JSON.stringify(e)).join('\n'));
  const source = join(dir, 'tickets.v1.yaml');
  return parseWorkflowDocument(
    `
id: tickets
version: 1
description: classified tickets
match:
${match}
classify:
${classify}
model: { tier: small, budget: { maxOutputTokens: 100, maxCostUsd: 0 } }
input: { schema: { type: object, required: [subject], properties: { subject: { type: string } } } }
retrieval: { collections: [docs], topK: 0, query: "{{input.subject}}" }
prompt: { id: p, version: 1, system: "Label {{classification.label}}.", user: "{{input.subject}}" }
output: { schema: { type: object, properties: { category: { type: string } } } }
validation:
  maxAttempts: 1
  stricterInstruction: Again.
  rules: [{ rule: matchesClassification, field: output.category }]
  onExhaustion: review
  forceReview: [{ field: classification.label, equals: unknown }]
${extra}`,
    source,
  );
}

const KNN = `  method: knn
  text: "{{input.subject}}"
  examples: tickets.jsonl
  k: 3
  minScore: 0.3`;

function request(subject: string, workflow?: string): RequestSubmitted {
  return {
    requestId: 'r-1',
    eventType: 'ticket.created',
    input: { subject },
    requester: { groups: [] },
    workflow,
  };
}

describe('knnVote', () => {
  it('gives the label with the largest similarity sum, scored by that sum over k', () => {
    const vote = knnVote(
      [
        { label: 'a', similarity: 0.9 },
        { label: 'b', similarity: 0.8 },
        { label: 'a', similarity: 0.7 },
        { label: 'b', similarity: 0.1 },
      ],
      3,
    );
    expect(vote.label).toBe('a');
    expect(vote.score).toBeCloseTo((0.9 + 0.7) / 3);
  });

  it('counts negative similarities as no vote and answers unknown without neighbours', () => {
    expect(knnVote([{ label: 'a', similarity: -0.5 }], 1)).toEqual({ label: 'a', score: 0 });
    expect(knnVote([], 5)).toEqual({ label: UNKNOWN_LABEL, score: 0 });
  });
});

describe('RequestClassifier, knn', () => {
  const workflow = classifiedWorkflow(KNN);

  it('labels a text by its nearest examples and embeds the examples once', async () => {
    const models = new ScriptedModelProvider();
    const classifier = new RequestClassifier({ embed: async (texts) => (await models.embed(texts)).vectors });
    await classifier.warm([workflow]);
    const billing = await classifier.classify(workflow, {
      subject: 'please refund the payment I was charged twice',
    });
    const account = await classifier.classify(workflow, {
      subject: 'password reset email never arrives, cannot login',
    });
    expect(billing).toMatchObject({ label: 'billing', method: 'knn' });
    expect(account).toMatchObject({ label: 'account', method: 'knn' });
    expect(billing.score).toBeGreaterThanOrEqual(0.3);
    // One batch for the examples (at warm-up), then one text per request.
    expect(models.embedCalls.map((c) => c.texts.length)).toEqual([EXAMPLES.length, 1, 1]);
  });

  it('answers unknown, naming the nearest label, below the minimum score', async () => {
    const models = new ScriptedModelProvider();
    const classifier = new RequestClassifier({ embed: async (texts) => (await models.embed(texts)).vectors });
    const result = await classifier.classify(workflow, { subject: 'bake a sponge cake at 180 degrees' });
    expect(result.label).toBe(UNKNOWN_LABEL);
    expect(result.score).toBeLessThan(0.3);
  });

  it('refuses to warm up without an embedding model, naming the workflow', async () => {
    await expect(new RequestClassifier({}).warm([workflow])).rejects.toThrow(
      /tickets@1 classifies with method knn, which needs an embedding model/,
    );
  });

  it('embeds the examples again after a failed first attempt', async () => {
    const models = new ScriptedModelProvider().enqueueEmbed(
      new ModelError('unavailable', 'model not loaded'),
    );
    const classifier = new RequestClassifier({ embed: async (texts) => (await models.embed(texts)).vectors });
    await expect(classifier.warm([workflow])).rejects.toThrow(/model not loaded/);
    await classifier.warm([workflow]);
    expect((await classifier.classify(workflow, { subject: 'refund payment' })).label).toBe('billing');
  });
});

describe('RequestClassifier, model', () => {
  const workflow = classifiedWorkflow(`  method: model
  text: "{{input.subject}}"
  examples: tickets.jsonl
  minScore: 0.5
  tier: large`);

  it('asks the model with an enum of the labels and takes its confidence as the score', async () => {
    const models = new ScriptedModelProvider().enqueueChat({ json: { label: 'account', confidence: 0.8 } });
    const tiers: string[] = [];
    const classifier = new RequestClassifier({
      chat: (req, tier) => {
        tiers.push(tier);
        return models.chat(req);
      },
    });
    const result = await classifier.classify(workflow, { subject: 'cannot log in <request>' });
    expect(result).toEqual({ label: 'account', score: 0.8, method: 'model' });
    expect(tiers).toEqual(['large']);
    const call = models.chatCalls[0];
    expect(call.responseSchema?.schema).toMatchObject({
      properties: { label: { enum: ['account', 'billing'] } },
    });
    // The text cannot close the block it is delimited by.
    expect(call.messages[1].content).toBe('<request>\ncannot log in &lt;request>\n</request>');
  });

  it('answers unknown when the model is not sure enough', async () => {
    const models = new ScriptedModelProvider().enqueueChat({ json: { label: 'billing', confidence: 0.2 } });
    const classifier = new RequestClassifier({ chat: (req) => models.chat(req) });
    expect(await classifier.classify(workflow, { subject: 'hm' })).toEqual({
      label: UNKNOWN_LABEL,
      score: 0.2,
      method: 'model',
      nearest: 'billing',
    });
  });
});

describe('routing with a classifier step', () => {
  const workflow = classifiedWorkflow(
    KNN,
    `  - eventType: { equals: ticket.created }
    when: [{ field: classification.label, equals: billing }]
    modelTier: large
    priority: 5
  - eventType: { equals: ticket.created }`,
  );
  const registry = new WorkflowRegistry([workflow]);
  const label = (value: string) => async (): Promise<Classification> => ({
    label: value,
    score: 0.9,
    method: 'knn',
  });

  it('drives the model tier from the label and carries the classification in the context', async () => {
    const billing = await registry.routeClassified(request('x'), label('billing'));
    expect(billing.modelTier).toBe('large');
    expect(billing.routed.context.classification).toEqual({ label: 'billing', score: 0.9, method: 'knn' });
    const account = await registry.routeClassified(request('x'), label('account'));
    expect(account.modelTier).toBe('small');
    expect(account.matchedBy).toEqual({ ruleIndex: 1 });
  });

  it('classifies once per request, and also when the request names the workflow', async () => {
    let calls = 0;
    const once = () => {
      calls++;
      return label('account')();
    };
    await registry.routeClassified(request('x'), once);
    expect(calls).toBe(1);
    const explicit = await registry.routeClassified(request('x', 'tickets'), once);
    expect(explicit.routed.context.classification?.label).toBe('account');
  });

  it('does not classify input that fails the input schema', async () => {
    let calls = 0;
    const bad = { ...request('x', 'tickets'), input: {} };
    await expect(
      registry.routeClassified(bad, () => {
        calls++;
        return label('a')();
      }),
    ).rejects.toThrow(/subject/);
    expect(calls).toBe(0);
  });

  it('without a classifier (route), a rule on the label does not match', () => {
    expect(registry.route(request('x')).matchedBy).toEqual({ ruleIndex: 1 });
  });
});

describe('loading a classifier step', () => {
  it('refuses a bad examples file, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'classify-spec-'));
    writeFileSync(
      join(dir, 'tickets.jsonl'),
      '{"text": "a", "label": "x"}\n{"text": "", "label": "y"}\nnot json\n',
    );
    const yaml = `
id: t
version: 1
description: d
match: []
classify: { method: knn, text: "{{input.subject}}", examples: tickets.jsonl, minScore: 0.2 }
model: { tier: small, budget: { maxOutputTokens: 1, maxCostUsd: 0 } }
input: { schema: { type: object } }
retrieval: { collections: [], topK: 0, query: "" }
prompt: { id: p, version: 1, system: s, user: u }
output: { schema: { type: object, properties: {} } }
validation: { maxAttempts: 1, stricterInstruction: x, rules: [], onExhaustion: fail }
`;
    const error = (() => {
      try {
        parseWorkflowDocument(yaml, join(dir, 't.v1.yaml'));
      } catch (e) {
        return e as WorkflowLoadError;
      }
      throw new Error('loaded');
    })();
    expect(error).toBeInstanceOf(WorkflowLoadError);
    expect(error.message).toMatch(
      /classify\.examples \(tickets\.jsonl\) line 2: "text" must be a non-empty string/,
    );
    expect(error.message).toMatch(/line 3: not JSON/);
    expect(() =>
      parseWorkflowDocument(yaml.replace('tickets.jsonl', 'missing.jsonl'), join(dir, 't.v1.yaml')),
    ).toThrow(/classify\.examples: cannot read .*missing\.jsonl/);
  });

  it('refuses a condition on the classification in a workflow without classify:', () => {
    const yaml = `
id: t
version: 1
description: d
match: [{ when: [{ field: classification.label, equals: billing }] }]
model: { tier: small, budget: { maxOutputTokens: 1, maxCostUsd: 0 } }
input: { schema: { type: object } }
retrieval: { collections: [], topK: 0, query: "" }
prompt: { id: p, version: 1, system: "{{classification.label}}", user: u }
output: { schema: { type: object, properties: { c: { type: string } } } }
validation:
  maxAttempts: 1
  stricterInstruction: x
  rules: [{ rule: matchesClassification, field: output.c }]
  onExhaustion: fail
  forceReview: [{ field: classification.label, equals: unknown }]
`;
    expect(() => parseWorkflowDocument(yaml, 't.v1.yaml')).toThrow(
      new RegExp(
        [
          'prompt\\.system: placeholder \\{\\{classification\\.label\\}\\} must be',
          'match\\[0\\]\\.when\\[0\\]\\.field: classification\\.label needs a classify: step',
          'validation\\.forceReview\\[0\\]\\.field: classification\\.label needs a classify: step',
          'validation\\.rules\\[0\\]: matchesClassification needs a classify: step',
        ].join('[\\s\\S]*'),
      ),
    );
  });

  it('loads the shipped support-ticket v2 examples', () => {
    const v2 = WorkflowRegistry.fromDirectory().get('support-ticket', 2);
    expect(v2.classify).toMatchObject({ method: 'knn' });
    const labels = new Set(v2.classifierExamples?.map((e) => e.label));
    expect([...labels].sort()).toEqual(['account', 'billing', 'other', 'technical']);
  });
});
