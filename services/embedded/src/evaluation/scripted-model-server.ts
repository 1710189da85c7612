import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EvalItem } from './dataset';

/** The model name the scripted server answers as; it says what it is in every response. */
export const SCRIPTED_MODEL = 'scripted-competent';

const PASSAGE =
  /<passage id="([^"]+)" title="[^"]*" source="kb:\/\/[^/"]+\/([^"]+)">\n([\s\S]*?)\n<\/passage>/g;
const DOC_REF = /^@doc:(.+)$/;

interface Candidate {
  readonly item: EvalItem;
  readonly needle: string;
}

/** Counts of what the scripted server answered. */
export interface ScriptedStats {
  /** Chat calls answered with an item's scripted output. */
  answered: number;
  /** Chat calls answered with an item's fallback (a document it cites was not among the passages). */
  fallbacks: number;
  /** Chat calls that matched no item (answered with `{}`, which fails every output schema). */
  unmatched: number;
}

/**
 * An OpenAI-compatible chat endpoint that plays a competent model with answers scripted per
 * dataset item (`EvalItem.scripted`): it finds the item whose longest input text occurs in the
 * prompt and answers its scripted output, with each `@doc:<documentId>` replaced by the id of a
 * passage of that document found in the prompt. When a cited document is not among the passages
 * (retrieval missed it, or the requester may not read it) it answers the item's `fallback`, as a
 * competent model without the source would (abstain, ask for a human). Several items may share an
 * input (the same question from people with different permissions): the first whose citations all
 * resolve wins, then one citing nothing, then the first one's fallback. It is scripted, not a
 * model: figures measured with it measure the platform (retrieval, validation, routing to review),
 * never model quality; its responses name the model `scripted-competent`.
 */
export class ScriptedModelServer {
  readonly stats: ScriptedStats = { answered: 0, fallbacks: 0, unmatched: 0 };
  private candidates: Candidate[] = [];
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  /** Adds the items this server can answer (items without `scripted` are ignored). */
  register(items: readonly EvalItem[]): void {
    for (const item of items) {
      if (!item.scripted) continue;
      const texts = Object.values(item.input).filter((v): v is string => typeof v === 'string');
      const needle = texts.sort((a, b) => b.length - a.length)[0];
      if (needle) this.candidates.push({ item, needle });
    }
  }

  /** Listens on 127.0.0.1 (`port` 0: any free port); resolves with the base URL (`http://127.0.0.1:<port>/v1`). */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolvePromise, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolvePromise());
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolvePromise) => this.server.close(() => resolvePromise()));
  }

  /** The answer for a prompt (exposed for tests): the scripted output as JSON text. */
  answer(prompt: string): string {
    const found: { id: string; documentId: string; words: Set<string> }[] = [];
    for (const [, id, documentId, text] of prompt.matchAll(PASSAGE)) {
      found.push({ id: id!, documentId: documentId!, words: wordsOf(text!) });
    }
    const matches = this.candidates.filter((c) => prompt.includes(c.needle));
    // A competent model cites, of a document's passages, the one that says what it answers.
    // In a list of citations, every passage of the document sharing at least half as many words
    // with the answer as the best one (an answer drawn from two sections cites both).
    const passagesFor = (output: unknown) => {
      const said = wordsOf(JSON.stringify(output));
      const scored = found.map((p) => ({ ...p, overlap: [...p.words].filter((w) => said.has(w)).length }));
      const refs = new Map<string, string[]>();
      for (const doc of new Set(scored.map((p) => p.documentId))) {
        const ofDoc = scored.filter((p) => p.documentId === doc).sort((a, b) => b.overlap - a.overlap);
        const best = ofDoc[0]!.overlap;
        refs.set(
          doc,
          ofDoc.filter((p, i) => i === 0 || (best > 0 && p.overlap * 2 >= best)).map((p) => p.id),
        );
      }
      return refs;
    };
    if (matches.length === 0) {
      this.stats.unmatched++;
      return '{}';
    }
    for (const { item } of matches) {
      const resolved = resolveRefs(item.scripted!.output, passagesFor(item.scripted!.output));
      if (resolved.complete && resolved.refs > 0) {
        this.stats.answered++;
        return JSON.stringify(resolved.value);
      }
    }
    const plain = matches.find(({ item }) => resolveRefs(item.scripted!.output, new Map()).refs === 0);
    if (plain) {
      this.stats.answered++;
      return JSON.stringify(plain.item.scripted!.output);
    }
    const first = matches[0]!.item.scripted!;
    this.stats.fallbacks++;
    return JSON.stringify(first.fallback ?? resolveRefs(first.output, passagesFor(first.output)).value);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      send(200, { object: 'list', data: [{ id: SCRIPTED_MODEL, object: 'model', owned_by: 'llmbus-eval' }] });
      return;
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      send(404, {
        error: {
          message: `the scripted model serves only POST /v1/chat/completions, not ${req.method} ${req.url}`,
        },
      });
      return;
    }
    let body: { messages?: { content?: unknown }[]; stream?: boolean };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      send(400, { error: { message: 'the body is not JSON' } });
      return;
    }
    const prompt = (body.messages ?? [])
      .map((m) => (typeof m.content === 'string' ? m.content : ''))
      .join('\n');
    const content = this.answer(prompt);
    const usage = {
      prompt_tokens: Math.ceil(prompt.length / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: Math.ceil(prompt.length / 4) + Math.ceil(content.length / 4),
    };
    const id = `chatcmpl-scripted-${randomBytes(6).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    if (body.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      event({
        id,
        object: 'chat.completion.chunk',
        created,
        model: SCRIPTED_MODEL,
        choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }],
      });
      event({
        id,
        object: 'chat.completion.chunk',
        created,
        model: SCRIPTED_MODEL,
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      });
      event({ id, object: 'chat.completion.chunk', created, model: SCRIPTED_MODEL, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    send(200, {
      id,
      object: 'chat.completion',
      created,
      model: SCRIPTED_MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage,
    });
  }
}

function wordsOf(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? []);
}

/**
 * Replaces `@doc:<id>` strings by passage ids (the best one in a string field, each listed one in
 * an array); references that cannot be resolved are dropped from arrays.
 */
function resolveRefs(
  value: unknown,
  passages: ReadonlyMap<string, readonly string[]>,
): { value: unknown; refs: number; complete: boolean } {
  let refs = 0;
  let complete = true;
  const idsOf = (v: string): readonly string[] | undefined => {
    const ref = DOC_REF.exec(v);
    if (!ref) return undefined;
    refs++;
    const ids = passages.get(ref[1]!);
    if (ids === undefined || ids.length === 0) complete = false;
    return ids ?? [];
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const ids = idsOf(v);
      return ids === undefined ? v : ids[0];
    }
    if (Array.isArray(v))
      return [
        ...new Set(v.flatMap((e): unknown[] => (typeof e === 'string' ? [...(idsOf(e) ?? [e])] : [walk(e)]))),
      ];
    if (typeof v === 'object' && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, e === null ? null : (walk(e) ?? '')]));
    return v;
  };
  const resolved = walk(value);
  return { value: resolved, refs, complete };
}
