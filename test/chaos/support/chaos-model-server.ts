// An OpenAI-compatible model server on 127.0.0.1 for the fault suite: instant, deterministic
// answers the support-ticket workflow accepts, a scripted escalation, and an injectable fault rate
// (HTTP 500 / 429 to a seeded share of calls).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Dimension of the vectors `/embeddings` returns; the registry entry must say the same. */
export const CHAOS_EMBEDDING_DIMENSION = 16;
/** A ticket subject holding this marker gets a low-confidence answer every time: two attempts, then review. */
export const ESCALATE_MARKER = '[escalate]';

type Json = Record<string, unknown>;

/** Counts of what the server answered. */
export interface ModelServerCounts {
  chat: number;
  embeddings: number;
  /** Calls answered with 500 or 429 by the fault injection. */
  faulted: number;
}

/** A seeded PRNG (mulberry32): the same seed gives the same fault pattern on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scripted model: answers every chat with a valid ticket reply, every embedding with a fixed-size vector. */
export class ChaosModelServer {
  readonly counts: ModelServerCounts = { chat: 0, embeddings: 0, faulted: 0 };
  private readonly server: Server;
  private faultRate = 0;
  private readonly random = seeded(13);

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on a free port of 127.0.0.1; resolves with the base URL (`…/v1`). */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Share of calls (0..1) answered 500 or 429 from now on. */
  setFaultRate(rate: number): void {
    this.faultRate = rate;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: Json;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      } catch {
        return reply(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
      }
      if (this.faultRate > 0 && this.random() < this.faultRate) {
        this.counts.faulted += 1;
        // Alternate the two kinds of transient fault a provider answers.
        return this.counts.faulted % 2 === 0
          ? reply(
              res,
              429,
              { error: { message: 'rate limited (injected)', type: 'rate_limit' } },
              { 'retry-after': '1' },
            )
          : reply(res, 500, { error: { message: 'internal error (injected)', type: 'server_error' } });
      }
      if ((req.url ?? '').endsWith('/embeddings')) this.embeddings(body, res);
      else this.chat(body, res);
    });
  }

  private embeddings(body: Json, res: ServerResponse): void {
    this.counts.embeddings += 1;
    const input = (Array.isArray(body.input) ? body.input : [body.input]) as string[];
    reply(res, 200, {
      object: 'list',
      model: body.model,
      data: input.map((text, index) => ({ object: 'embedding', index, embedding: vectorOf(String(text)) })),
      usage: { prompt_tokens: input.length, total_tokens: input.length },
    });
  }

  private chat(body: Json, res: ServerResponse): void {
    this.counts.chat += 1;
    const messages = (body.messages ?? []) as { role: string; content: string | null }[];
    const prompt = messages.map((m) => m.content ?? '').join('\n');
    const format = body.response_format as { json_schema?: { schema?: Json } } | undefined;
    const allowedCitations = citationIds(format?.json_schema?.schema);
    const escalate = prompt.includes(ESCALATE_MARKER);
    const output = {
      category: 'technical',
      priority: 'normal',
      reply: 'Thanks for writing in. Please open Settings, choose Security and press Reset password.',
      citations: allowedCitations.slice(0, 1),
      needsHuman: escalate,
      // Below the workflow's minimum of 0.3: the validator retries once, then escalates to review.
      confidence: escalate ? 0.1 : 0.9,
    };
    reply(res, 200, {
      id: `chatcmpl-${this.counts.chat}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: JSON.stringify(output) },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 40, total_tokens: 140 },
    });
  }
}

/** The passage ids the generator's grounded schema allows for `citations` (its items' enum). */
function citationIds(schema: Json | undefined): string[] {
  const properties = schema?.properties as Record<string, Json> | undefined;
  const items = properties?.citations?.items as Json | undefined;
  return Array.isArray(items?.enum) ? (items.enum as string[]) : [];
}

function vectorOf(text: string): number[] {
  const vector = new Array<number>(CHAOS_EMBEDDING_DIMENSION).fill(0);
  for (let i = 0; i < text.length; i++) vector[text.charCodeAt(i) % CHAOS_EMBEDDING_DIMENSION] += 1;
  vector[0] += 1; // never the zero vector
  return vector;
}

function reply(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
