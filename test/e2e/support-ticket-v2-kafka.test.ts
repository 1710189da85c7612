// support-ticket v2 end to end: five service processes on Kafka and PostgreSQL, with an
// OpenAI-compatible server in this test playing a competent model. It is SCRIPTED, not a model:
// embeddings come from a small topic lexicon (account, billing, technical words each pull towards
// their own dimension; other words are hashed), and the chat answer sets the category the prompt
// names, cites the first passage and replies with that passage's own first sentences. The router
// must classify each ticket from the shipped examples, route by the label (technical + high →
// large tier), and the validator must accept the right category and send an unplaceable ticket
// to review.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestCompletedEvent,
  RequestRoutedEvent,
  RequestSubmittedEvent,
  ReviewRequestedEvent,
  Topics,
} from '@llmbus/contracts';
import { loadSampleDocuments } from '@llmbus/svc-embedded';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';

jest.setTimeout(600_000);

const TENANT = 'e2e-ticket-v2';
/** text-embedding-3-small, the registry's default OpenAI embedding model. */
const DIMENSION = 1536;
const TOPICS: Record<string, readonly string[]> = {
  account: [
    'password',
    'reset',
    'login',
    'log',
    'sign',
    'account',
    'locked',
    'email',
    'two-factor',
    '2fa',
    'verification',
  ],
  billing: [
    'refund',
    'charged',
    'charge',
    'invoice',
    'payment',
    'billing',
    'billed',
    'plan',
    'price',
    'subscription',
    'card',
  ],
  technical: [
    'sync',
    'error',
    'app',
    'crash',
    'crashes',
    'upload',
    'uploads',
    'file',
    'files',
    'slow',
    'desktop',
    'quota',
  ],
};
const STOP = new Set([
  'the',
  'a',
  'an',
  'i',
  'my',
  'and',
  'or',
  'to',
  'of',
  'is',
  'it',
  'in',
  'on',
  'for',
  'but',
  'no',
  'not',
  'how',
  'do',
  'me',
  'you',
  'we',
  'this',
  'that',
  'can',
  'with',
  'hi',
  'thanks',
]);

function embed(text: string): number[] {
  const v: number[] = new Array<number>(DIMENSION).fill(0);
  const topics = Object.keys(TOPICS);
  for (const word of text.toLowerCase().match(/[a-z0-9-]+/g) ?? []) {
    if (STOP.has(word)) continue;
    const topic = topics.findIndex((t) => TOPICS[t].includes(word));
    if (topic >= 0) v[topic] += 3;
    else v[8 + (createHash('sha256').update(word).digest().readUInt32BE(0) % (DIMENSION - 8))] += 1;
  }
  if (!v.some((x) => x !== 0)) v[DIMENSION - 1] = 1;
  return v;
}

/** The scripted competent model (see the file comment). */
class CompetentEndpoint {
  readonly chats: { model: string; system: string }[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const answer = req.url?.endsWith('/embeddings') ? this.embeddings(body) : this.chat(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private embeddings(body: Record<string, unknown>) {
    const input = body['input'] as string[];
    return {
      object: 'list',
      model: body['model'],
      data: input.map((text, index) => ({ object: 'embedding', index, embedding: embed(text) })),
      usage: { prompt_tokens: input.length, total_tokens: input.length },
    };
  }

  private chat(body: Record<string, unknown>) {
    const messages = body['messages'] as { role: string; content: string }[];
    const system = messages.find((m) => m.role === 'system')?.content ?? '';
    const user = messages.find((m) => m.role === 'user')?.content ?? '';
    this.chats.push({ model: String(body['model']), system });
    const category = /classified as ([a-z]+)\./.exec(system)?.[1] ?? 'other';
    const first = /<passage id="([^"]+)"[^>]*>\n([\s\S]*?)\n<\/passage>/.exec(user);
    const sentences = (first?.[2] ?? '').split(/(?<=\.)\s+/).filter((s) => !s.startsWith('#'));
    const output = {
      category: ['billing', 'technical', 'account', 'other'].includes(category) ? category : 'other',
      priority: 'high',
      reply: sentences.slice(0, 2).join(' ').slice(0, 590) || 'We could not find this in our documentation.',
      citations: first ? [first[1]] : [],
      needsHuman: !first,
      confidence: 0.9,
    };
    return {
      id: `chatcmpl-${randomBytes(4).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body['model'],
      choices: [
        { index: 0, message: { role: 'assistant', content: JSON.stringify(output) }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 300, completion_tokens: 60, total_tokens: 360 },
    };
  }
}

describe('support-ticket v2 on Kafka: five service processes, scripted competent model', () => {
  const endpoint = new CompetentEndpoint();
  let pipeline: Pipeline;

  beforeAll(async () => {
    const url = await endpoint.start();
    pipeline = new Pipeline('e2e-ticket-v2', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name, Topics.Review.name, Topics.Routed.name, Topics.DocumentIndexed.name],
      env: { OPENAI_API_KEY: 'sk-e2e-scripted', OPENAI_BASE_URL: url },
    });
    await pipeline.start();
    const { documents } = loadSampleDocuments(join(__dirname, '..', '..', 'samples', 'documents'));
    for (const doc of documents) {
      await pipeline.send(
        Topics.DocumentIngest.name,
        doc.documentId,
        ceHeaders(DocumentSubmittedEvent.type, doc.documentId, TENANT),
        JSON.stringify(doc),
      );
    }
    for (const doc of documents) {
      await pipeline.tap.waitFor(
        (m) => m.headers['ce_type'] === DocumentIndexedEvent.type && m.key === doc.documentId,
        180_000,
        `DocumentIndexed for ${doc.documentId}`,
      );
    }
  });

  afterAll(async () => {
    await pipeline?.stop();
    await endpoint.stop();
  });
  afterEach(() => dumpOutputOnFailure(pipeline));

  async function submit(subject: string, body: string, priority = 'normal') {
    const requestId = `v2-${randomBytes(4).toString('hex')}`;
    await pipeline.send(
      Topics.Request.name,
      requestId,
      ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
      JSON.stringify({
        requestId,
        eventType: 'ticket.created',
        input: { subject, body, priority, product: 'Acme Sync', customer: { name: 'Dana', tier: 'pro' } },
        requester: { userId: 'helpdesk-bot', groups: [] },
      }),
    );
    const routed = await pipeline.tap.waitFor(
      (m) => m.key === requestId && m.headers['ce_type'] === RequestRoutedEvent.type,
      120_000,
      `RequestRouted for ${requestId}`,
    );
    const outcome = await pipeline.tap.waitFor(
      (m) =>
        m.key === requestId &&
        (m.headers['ce_type'] === RequestCompletedEvent.type ||
          m.headers['ce_type'] === ReviewRequestedEvent.type),
      180_000,
      `outcome of ${requestId}`,
    );
    const context = routed.json!['context'] as {
      classification?: { label: string; score: number };
      modelTier: string;
    };
    return { context, outcome, data: outcome.json! };
  }

  it('classifies the sample password-reset ticket as account and accepts the grounded answer in that category', async () => {
    const { context, outcome, data } = await submit(
      'Password reset email never arrives',
      'Hi, I clicked Forgot password twice this morning but no email came. I need to get into my account today. Thanks, Dana',
      'high',
    );
    console.log(
      `sample ticket: classification ${JSON.stringify(context.classification)}, outcome ${outcome.headers['ce_type']}`,
    );
    expect(context.classification).toMatchObject({ label: 'account', method: 'knn' });
    expect(outcome.headers['ce_type']).toBe(RequestCompletedEvent.type);
    expect(data['workflow']).toEqual({ id: 'support-ticket', version: 2 });
    expect(data['output']).toMatchObject({ category: 'account', needsHuman: false });
    expect(data['acceptedBy']).toBe('validator');
  });

  it('classifies a double charge as billing, and routes a high-priority technical ticket to the large tier', async () => {
    const billing = await submit(
      'Charged twice',
      'I was charged twice for my subscription this month, please refund the payment.',
    );
    expect(billing.context.classification?.label).toBe('billing');
    expect(billing.data['output']).toMatchObject({ category: 'billing' });

    const technical = await submit(
      'Desktop app sync error',
      'The desktop app shows a sync error and files do not upload.',
      'high',
    );
    expect(technical.context.classification?.label).toBe('technical');
    expect(technical.context.modelTier).toBe('large');
  });

  it('sends a ticket the classifier cannot place to review', async () => {
    const { context, outcome, data } = await submit(
      'Cake',
      'Whisk two eggs with sugar, fold in flour and bake the sponge at 180 degrees for 25 minutes.',
    );
    expect(context.classification?.label).toBe('unknown');
    expect(outcome.headers['ce_type']).toBe(ReviewRequestedEvent.type);
    expect(String(data['reason'])).toMatch(/could not place this ticket/);
  });
});
