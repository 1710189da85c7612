import type { Passage } from '@llmbus/contracts';
import { ModelError, ScriptedModelProvider } from '@llmbus/models';
import { ClaimVerifier, withVerification } from './claim-verifier';
import { OutputValidator } from './output-validator';
import type { WorkflowDefinition } from './workflow-definition';
import { WorkflowRegistry } from './workflow-registry';

const base = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
const workflow: WorkflowDefinition = { ...base, verify: { model: { tier: 'large', timeoutMs: 5000 } } };
const passage = (id: string, text: string): Passage => ({
  id,
  documentId: `doc-${id}`,
  collection: 'product-docs',
  title: 'Resetting your password',
  sourceUri: `kb://${id}`,
  chunkIndex: 0,
  text,
  score: 0.9,
});
const passages = [
  passage('kb-reset', 'The reset link is valid for 30 minutes and can be used once.'),
  passage('kb-spam', 'Check the spam folder first. Reset emails come from no-reply@acmesync.example.'),
];
const output = {
  category: 'account',
  priority: 'high',
  reply:
    'Please check your spam folder for the reset email. The reset link stays valid for 30 minutes. We refund every customer twice.',
  citations: ['kb-reset', 'kb-spam'],
  needsHuman: false,
  confidence: 0.9,
};

function verifierWith(...steps: Parameters<ScriptedModelProvider['enqueueChat']>) {
  const model = new ScriptedModelProvider().enqueueChat(...steps);
  const tiers: string[] = [];
  const verifier = new ClaimVerifier((request, tier) => {
    tiers.push(tier);
    return model.chat(request);
  });
  return { model, verifier, tiers };
}

describe('ClaimVerifier', () => {
  it('records a verdict and passage per claim, and scores supported minus contradicted over claims', async () => {
    const { model, verifier, tiers } = verifierWith({
      json: {
        verdicts: [
          { claim: 1, verdict: 'supported', passageId: 'kb-spam' },
          { claim: 2, verdict: 'supported', passageId: 'kb-reset' },
          { claim: 3, verdict: 'contradicted', passageId: 'kb-reset' },
        ],
      },
    });
    const result = await verifier.verify(workflow, output, passages, output.citations);
    expect(result?.verdicts.map((v) => [v.verdict, v.passageId])).toEqual([
      ['supported', 'kb-spam'],
      ['supported', 'kb-reset'],
      ['contradicted', 'kb-reset'],
    ]);
    expect(result?.score).toBeCloseTo(1 / 3, 3);
    expect(result?.concerns).toEqual([
      expect.stringMatching(/"We refund every customer twice\." is contradicted .*kb-reset/),
    ]);
    expect(tiers).toEqual(['large']);
    const call = model.chatCalls[0];
    expect(call.timeoutMs).toBe(5000);
    expect(call.responseSchema?.schema).toMatchObject({
      properties: {
        verdicts: { items: { properties: { passageId: { enum: ['kb-reset', 'kb-spam', 'none'] } } } },
      },
    });
    expect(call.messages[1].content).toMatch(
      /<passage id="kb-reset"[\s\S]*<claims>\n1\. Please check your spam folder/,
    );
  });

  it('counts a skipped claim, or support by a passage it was not given, as unsupported', async () => {
    const { verifier } = verifierWith({
      json: {
        verdicts: [
          { claim: 1, verdict: 'supported', passageId: 'none' },
          { claim: 2, verdict: 'supported', passageId: 'kb-reset' },
        ],
      },
    });
    const result = await verifier.verify(workflow, output, passages, output.citations);
    expect(result?.verdicts.map((v) => v.verdict)).toEqual(['unsupported', 'supported', 'unsupported']);
    expect(result?.score).toBeCloseTo(1 / 3, 3);
  });

  it('records a failed verifier (model error) as unverified claims with score 0, never as support', async () => {
    const { verifier } = verifierWith(
      new ModelError('timeout', 'the verifier did not answer within 5000 ms'),
    );
    const result = await verifier.verify(workflow, output, passages, output.citations);
    expect(result?.score).toBe(0);
    expect(result?.failure).toMatch(/did not answer within 5000 ms/);
    expect(result?.verdicts.every((v) => v.verdict === 'unverified')).toBe(true);
    expect(result?.concerns).toEqual([expect.stringMatching(/verifier: .* 3 claim\(s\) left unverified/)]);
  });

  it('records an answer without a verdicts list as a failure', async () => {
    // A provider that let a non-conforming answer through (the port's providers normally refuse one).
    const verifier = new ClaimVerifier(async () => ({
      text: '{"verdicts":"all fine"}',
      json: { verdicts: 'all fine' },
      toolCalls: [],
      finishReason: 'stop',
      usage: {
        modelId: 'm',
        provider: 'scripted',
        promptTokens: 1,
        completionTokens: 1,
        costUsd: 0,
        latencyMs: 1,
      },
    }));
    const result = await verifier.verify(workflow, output, passages, output.citations);
    expect(result?.failure).toMatch(/without a verdicts list/);
    expect(result?.score).toBe(0);
  });

  it('verifies nothing when the output has no claim sentences', async () => {
    const { verifier, model } = verifierWith();
    expect(await verifier.verify(workflow, { ...output, reply: 'Thanks!' }, passages, [])).toBeUndefined();
    expect(model.chatCalls).toHaveLength(0);
  });

  it('lowers the confidence by the verifier score and lists the claims for the reviewer', async () => {
    const { verifier } = verifierWith({
      json: {
        verdicts: [
          { claim: 1, verdict: 'supported', passageId: 'kb-spam' },
          { claim: 2, verdict: 'supported', passageId: 'kb-reset' },
          { claim: 3, verdict: 'unsupported', passageId: 'none' },
        ],
      },
    });
    const validation = new OutputValidator().validate(
      workflow,
      { output, text: JSON.stringify(output) },
      passages,
    );
    const verification = (await verifier.verify(workflow, output, passages, validation.citations))!;
    const result = withVerification(validation, verification);
    expect(result.assessment.confidence).toBeCloseTo(validation.assessment.confidence * (2 / 3), 2);
    expect(result.assessment.signals).toContainEqual({ name: 'verifier', score: 0.667, weight: 0 });
    expect(result.assessment.verdicts).toHaveLength(3);
    expect(result.assessment.unsupportedClaims).toContainEqual(
      expect.stringMatching(/refund every customer twice.* is unsupported/),
    );
    expect(result.concerns).toContainEqual(expect.stringMatching(/is unsupported/));
  });
});
