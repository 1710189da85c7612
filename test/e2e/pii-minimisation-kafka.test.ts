// Data minimisation end to end: the five service processes on Kafka with an OpenAI-compatible
// endpoint that is not trusted for PII (a node:http server in this test). The server records
// every request it receives; no labelled entity of the submitted ticket (or of the indexed
// document) may reach it raw, and the published result must carry the values restored.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DocumentIndexedEvent,
  DocumentSubmittedEvent,
  RequestCompletedEvent,
  RequestSubmittedEvent,
  ReviewRequestedEvent,
  Topics,
} from '@llmbus/contracts';
import { ceHeaders, dumpOutputOnFailure, Pipeline } from '../support/pipeline-harness';
import { startService } from '../support/service-processes';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

jest.setTimeout(600_000);

const TENANT = 'e2e-pii';
/** text-embedding-3-small, the registry's default OpenAI embedding model. */
const EMBEDDING_DIMENSION = 1536;

/** The ticket's personal data and secrets, as a labeller marked them. */
const TICKET_ENTITIES = {
  PERSON: 'Maria Schneider',
  EMAIL: 'maria.schneider@example.de',
  PHONE: '+49 170 1234567',
  IBAN: 'DE89 3704 0044 0532 0130 00',
  PAYMENT_CARD: '4111 1111 1111 1111',
  POSTAL_ADDRESS: 'Hauptstraße 5, 10115 Berlin',
  DATE_OF_BIRTH: '14/03/1985',
  IP_ADDRESS: '203.0.113.57',
  API_KEY: 'sk-proj-7Hq2xLm9PzR4tVb8NcWd3KfJ6sAe1YuG',
};
const DOCUMENT_ENTITIES = { PERSON: 'Sofia Rossi', PHONE: '+44 20 7946 0321' };

/** An OpenAI-compatible endpoint that records every request and answers from what it was sent. */
class RecordingEndpoint {
  readonly bodies: string[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      this.bodies.push(raw);
      const body = JSON.parse(raw) as Record<string, unknown>;
      const answer = req.url?.endsWith('/embeddings') ? embeddings(body) : chat(body);
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

  /** Every request as received, plus the message contents decoded (JSON escapes undone). */
  seen(): string {
    const contents = this.bodies.flatMap((raw) => {
      const body = JSON.parse(raw) as { messages?: { content: string }[]; input?: string[] };
      return [...(body.messages ?? []).map((m) => m.content), ...(body.input ?? [])];
    });
    return [...this.bodies, ...contents].join('\n');
  }
}

function embeddings(body: Record<string, unknown>) {
  const input = body['input'] as string[];
  const vector = (text: string) => {
    const v = new Array<number>(EMBEDDING_DIMENSION).fill(0);
    for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? [])
      v[createHash('sha256').update(word).digest().readUInt32BE(0) % EMBEDDING_DIMENSION] += 1;
    v[0] += 1; // never the zero vector
    return v;
  };
  return {
    object: 'list',
    model: body['model'],
    data: input.map((text, index) => ({ object: 'embedding', index, embedding: vector(text) })),
    usage: { prompt_tokens: input.length, total_tokens: input.length },
  };
}

/** A "model" that answers the support workflow using the placeholders it was given. */
function chat(body: Record<string, unknown>) {
  const messages = body['messages'] as { content: string }[];
  const prompt = messages.map((m) => m.content).join('\n');
  const first = (type: string) => new RegExp(`<${type}_\\d+>`).exec(prompt)?.[0] ?? `(no ${type})`;
  const citations = [...prompt.matchAll(/<passage id="([^"]+)"/g)].map((m) => m[1]).slice(0, 1);
  const output = {
    category: 'billing',
    priority: 'high',
    reply: `Dear ${first('PERSON')}, we refunded card ${first('PAYMENT_CARD')} to ${first('IBAN')} and will confirm to ${first('EMAIL')}.`,
    citations,
    needsHuman: false,
    confidence: 0.9,
  };
  const content = JSON.stringify(output);
  return {
    id: `chatcmpl-${randomBytes(4).toString('hex')}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body['model'],
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 100, completion_tokens: 40, total_tokens: 140 },
  };
}

describe('PII minimisation on Kafka with an untrusted OpenAI-compatible endpoint', () => {
  const endpoint = new RecordingEndpoint();
  const piiKey = randomBytes(32).toString('base64');
  let modelEnv: Record<string, string> = {};
  let pipeline: Pipeline;

  beforeAll(async () => {
    const url = await endpoint.start();
    modelEnv = { OPENAI_API_KEY: 'sk-e2e-not-a-real-key', OPENAI_BASE_URL: url };
    pipeline = new Pipeline('e2e-pii', {
      tenant: TENANT,
      tapTopics: [Topics.Result.name, Topics.Review.name, Topics.DocumentIndexed.name],
      // The scripted reply is not grounded in the indexed document; personal data is under test here.
      env: { ...modelEnv, LLMBUS_PII_KEY: piiKey, LLMBUS_WORKFLOWS_DIR: workflowsWithoutConfidence() },
    });
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await endpoint.stop();
  });
  afterEach(() => dumpOutputOnFailure(pipeline));

  it('sends no labelled entity raw to the endpoint and publishes the result with the values restored', async () => {
    const documentId = `escalation-${randomBytes(3).toString('hex')}`;
    await pipeline.send(
      Topics.DocumentIngest.name,
      documentId,
      ceHeaders(DocumentSubmittedEvent.type, documentId, TENANT),
      JSON.stringify({
        documentId,
        collection: 'product-docs',
        title: 'Refund escalations',
        sourceUri: 'kb://refund-escalations',
        contentType: 'text/markdown',
        content:
          '# Refund escalations\n\nDouble charges are refunded to the card or account they came from within ' +
          `five working days. Escalation contact: ${DOCUMENT_ENTITIES.PERSON}, ${DOCUMENT_ENTITIES.PHONE}.\n`,
        aclGroups: [],
        version: 1,
      }),
    );
    await pipeline.tap.waitFor(
      (m) => m.headers['ce_type'] === DocumentIndexedEvent.type && m.key === documentId,
      120_000,
      `DocumentIndexed for ${documentId}`,
    );

    const requestId = `pii-${randomBytes(4).toString('hex')}`;
    const e = TICKET_ENTITIES;
    const ticket = {
      requestId,
      eventType: 'ticket.created',
      input: {
        subject: `Refund for ${e.PERSON}`,
        body:
          `Hi, this is ${e.PERSON} (born ${e.DATE_OF_BIRTH}). My card ${e.PAYMENT_CARD} was charged twice for ` +
          `order ORD-2024-88812. Please refund to IBAN ${e.IBAN} or call ${e.PHONE}. I live at ${e.POSTAL_ADDRESS}. ` +
          `Our integration at ${e.IP_ADDRESS} uses the key ${e.API_KEY}. Write to ${e.EMAIL}.`,
        priority: 'high',
        customer: { name: e.PERSON, email: e.EMAIL, tier: 'pro' },
      },
      requester: { userId: 'helpdesk-bot', groups: [] },
    };
    await pipeline.send(
      Topics.Request.name,
      requestId,
      ceHeaders(RequestSubmittedEvent.type, requestId, TENANT),
      JSON.stringify(ticket),
    );
    const outcome = await pipeline.tap.waitFor(
      (m) =>
        m.key === requestId &&
        (m.headers['ce_type'] === RequestCompletedEvent.type ||
          m.headers['ce_type'] === ReviewRequestedEvent.type),
      180_000,
      `outcome of ${requestId}`,
    );

    // What the endpoint saw: placeholders, never the values.
    const seen = endpoint.seen();
    expect(endpoint.bodies.some((b) => b.includes('"messages"'))).toBe(true);
    const leaked = Object.entries({ ...TICKET_ENTITIES, ...DOCUMENT_ENTITIES }).filter(([, value]) =>
      seen.includes(value),
    );
    expect(leaked).toEqual([]);
    expect(seen).toContain('<PERSON_1>');
    expect(seen).toContain('ORD-2024-88812'); // a near miss is not masked
    // The document reached the endpoint twice, masked: as chunks to embed and as a passage of the prompt.
    expect(seen.match(/Escalation contact: <PERSON_\d+>, <PHONE_\d+>/g)?.length).toBeGreaterThanOrEqual(2);

    // What was published: the validated output with the values back, the card redacted by the default policy.
    expect(outcome.headers['ce_type']).toBe(RequestCompletedEvent.type);
    const output = outcome.json!['output'] as Record<string, string>;
    expect(output['reply']).toBe(
      `Dear ${e.PERSON}, we refunded card [PAYMENT_CARD redacted] to ${e.IBAN} and will confirm to ${e.EMAIL}.`,
    );

    // The audit trail stores the request masked; an admin (every role, pii-reader included) reads it raw.
    const deadline = Date.now() + 60_000;
    let stored: string[] = [];
    while (!stored.some((p) => p.includes('"acceptedBy"')) && Date.now() < deadline) {
      const rows = await pipeline.db.query<{ payload: unknown }>(
        'SELECT payload FROM audit_events WHERE correlation_id = $1',
        [requestId],
      );
      stored = rows.rows.map((r) => JSON.stringify(r.payload));
      if (!stored.some((p) => p.includes('"acceptedBy"'))) await new Promise((r) => setTimeout(r, 200));
    }
    expect(stored.length).toBeGreaterThanOrEqual(5);
    expect(Object.values(TICKET_ENTITIES).filter((value) => stored.some((p) => p.includes(value)))).toEqual(
      [],
    );
    const trail = await fetch(`${pipeline.auditorUrl}/v1/requests/${requestId}/trail`, {
      headers: { 'x-api-key': pipeline.apiKey },
    });
    expect(JSON.stringify(await trail.json())).toContain(e.PAYMENT_CARD);

    // The router's status, read from that masked trail, answers what the result topic published.
    const status = await fetch(`${pipeline.routerUrl}/v1/requests/${requestId}`, {
      headers: { 'x-api-key': pipeline.apiKey },
    });
    const view = (await status.json()) as { status: string; output: Record<string, string> };
    expect(view).toMatchObject({ status: 'completed', output: { reply: output['reply'] } });
    expect(view).not.toHaveProperty('sealedOutcome');
  });

  it('refuses to start a generator that would mask prompts without LLMBUS_PII_KEY, naming the variable', async () => {
    await expect(
      startService(
        'generator',
        {
          ...modelEnv,
          LLMBUS_MODE: 'distributed',
          KAFKA_BROKERS: pipeline.brokers.join(','),
          LLMBUS_TOPIC_PREFIX: `${pipeline.prefix}keyless.`,
          LLMBUS_PII_KEY: '',
        },
        60_000,
      ),
    ).rejects.toThrow(/LLMBUS_PII_KEY is not set/);
  });
});
