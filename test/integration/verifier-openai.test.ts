// The verifier model pass (verify.model) through the real OpenAI adapter against an
// OpenAI-compatible server started in this test. The server is SCRIPTED, not a model: it reads
// the numbered claims and passage ids from the verifier's prompt and answers verdicts chosen by
// the test (a claim mentioning a refund is contradicted, every other claim supported by the first
// passage), or never answers (a verifier that times out). The validator must accept only the
// fully supported answer, and never take a verifier it could not hear from as support.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  RequestCompleted,
  RequestCompletedEvent,
  ResponseGenerated,
  ReviewRequested,
  ReviewRequestedEvent,
} from '@llmbus/contracts';
import { createModelProviders, parseModelsConfig, type ModelProviders } from '@llmbus/models';
import { createPiiDetector, PiiProtection } from '@llmbus/pii';
import { ResponseValidation, verifierChat } from '@llmbus/svc-validator';
import { ClaimVerifier, WorkflowRegistry } from '@llmbus/workflows';
import pino from 'pino';

jest.setTimeout(60_000);

type Mode = 'verdicts' | 'hang';

/** An OpenAI-compatible endpoint answering scripted verdicts (see the file comment). */
class ScriptedVerifierEndpoint {
  mode: Mode = 'verdicts';
  readonly prompts: string[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        model: string;
        messages: { content: string }[];
      };
      const prompt = body.messages.map((m) => m.content).join('\n');
      this.prompts.push(prompt);
      if (this.mode === 'hang') {
        this.hanging.add(res);
        return;
      }
      const ids = [...prompt.matchAll(/<passage id="([^"]+)"/g)].map((m) => m[1]);
      const claims = [
        ...(/<claims>\n([\s\S]*?)\n<\/claims>/.exec(prompt)?.[1] ?? '').matchAll(/^(\d+)\. (.*)$/gm),
      ];
      const verdicts = claims.map(([, n, claim]) =>
        /refund/i.test(claim)
          ? { claim: Number(n), verdict: 'contradicted', passageId: ids[0] }
          : { claim: Number(n), verdict: 'supported', passageId: ids[0] },
      );
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${randomBytes(4).toString('hex')}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: JSON.stringify({ verdicts }) },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
        }),
      );
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const log = pino({ level: 'silent' });
const base = WorkflowRegistry.fromDirectory().get('support-ticket', 1);
const workflows = new WorkflowRegistry([{ ...base, verify: { model: { timeoutMs: 2000 } } }]);
const passage = {
  id: 'password-reset#1',
  documentId: 'password-reset',
  collection: 'product-docs',
  title: 'Resetting your password',
  sourceUri: 'samples/documents/product-docs/password-reset.md',
  chunkIndex: 1,
  text:
    'Check the spam folder first. Reset emails come from no-reply@acmesync.example. If nothing arrives ' +
    'after 15 minutes, request a new link; requesting a new link cancels the previous one.',
  score: 0.9,
};

function generated(reply: string, attempt = 2): ResponseGenerated {
  const output = {
    category: 'account',
    priority: 'high',
    reply,
    citations: [passage.id],
    needsHuman: false,
    confidence: 0.8,
  };
  return {
    requestId: `verify-${randomBytes(4).toString('hex')}`,
    context: {
      workflow: { id: 'support-ticket', version: 1 },
      requester: { groups: [] },
      modelTier: 'small',
      budget: { maxOutputTokens: 400, maxCostUsd: 0.02 },
    },
    input: { subject: 'Password reset email never arrives', body: 'No email came.' },
    passages: [passage],
    attempt,
    prompt: { id: 'support-ticket-reply', version: 1 },
    renderedPrompt: '[]',
    text: JSON.stringify(output),
    output,
    usage: {
      modelId: 'm',
      provider: 'scripted',
      promptTokens: 1,
      completionTokens: 1,
      costUsd: 0,
      latencyMs: 1,
    },
    callId: 'call-1',
  } as ResponseGenerated;
}

const grounded =
  'Please check your spam folder first: reset emails come from no-reply@acmesync.example. ' +
  'If nothing arrives after 15 minutes, request a new link.';

describe('verifier model pass through the OpenAI adapter (scripted endpoint)', () => {
  const endpoint = new ScriptedVerifierEndpoint();
  let providers: ModelProviders;
  let validation: ResponseValidation;

  beforeAll(async () => {
    const url = await endpoint.start();
    providers = createModelProviders(
      parseModelsConfig({
        OPENAI_API_KEY: 'scripted',
        OPENAI_BASE_URL: url,
        OPENAI_CHAT_MODEL: 'scripted-verifier',
        OPENAI_EMBEDDING_MODEL: 'scripted-embeddings',
        OPENAI_MAX_RETRIES: '0',
        OPENAI_TRUSTED_FOR_PII: 'true',
      }),
    );
    validation = new ResponseValidation(
      workflows,
      new PiiProtection(createPiiDetector(), randomBytes(32)),
      new ClaimVerifier(verifierChat(providers)),
    );
  });
  afterAll(async () => {
    await providers?.close();
    await endpoint.stop();
  });

  it('accepts an answer whose every claim the verifier supports, recording the verdicts', async () => {
    endpoint.mode = 'verdicts';
    const [event] = await validation.onGenerated(generated(grounded), log);
    expect(event.definition).toBe(RequestCompletedEvent);
    const { assessment } = event.payload as RequestCompleted;
    expect(assessment?.verdicts).toEqual([
      expect.objectContaining({ verdict: 'supported', passageId: 'password-reset#1' }),
      expect.objectContaining({ verdict: 'supported', passageId: 'password-reset#1' }),
    ]);
    expect(endpoint.prompts.at(-1)).toMatch(/<claims>\n1\. Please check your spam folder/);
  });

  it('sends an answer with a contradicted claim to review, listing the claim', async () => {
    endpoint.mode = 'verdicts';
    const [event] = await validation.onGenerated(
      generated(`${grounded} We refund every customer twice.`),
      log,
    );
    expect(event.definition).toBe(ReviewRequestedEvent);
    const review = event.payload as ReviewRequested;
    expect(review.assessment?.unsupportedClaims).toContainEqual(
      expect.stringMatching(/"We refund every customer twice\." is contradicted/),
    );
  });

  it('records a verifier that does not answer in time as a failure, and does not accept', async () => {
    endpoint.mode = 'hang';
    const [event] = await validation.onGenerated(generated(grounded), log);
    expect(event.definition).toBe(ReviewRequestedEvent);
    const review = event.payload as ReviewRequested;
    expect(review.assessment?.signals).toContainEqual({ name: 'verifier', score: 0, weight: 0 });
    expect(review.assessment?.verdicts?.every((v) => v.verdict === 'unverified')).toBe(true);
    console.log(`verifier timeout recorded as: ${review.assessment?.unsupportedClaims.join('; ')}`);
  });
});
