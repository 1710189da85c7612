// An OpenAI-compatible chat endpoint in the test process: each answer is computed by the test's
// script from the messages it receives, so a test decides what "the model" says to which prompt.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One chat message as the OpenAI API carries it (an assistant turn that called tools may have no content). */
export interface ChatMessage {
  readonly role: string;
  readonly content: string | null;
  readonly tool_calls?: readonly { function: { name: string } }[];
}

/** A turn that calls tools instead of answering: the model's words and the calls, by tool name. */
export interface ToolCallsAnswer {
  readonly toolCalls: readonly { readonly name: string; readonly arguments: Record<string, unknown> }[];
  readonly text: string;
}

/** Computes the model's answer from the request's messages: a JSON object, or tool calls. */
export type ScriptedAnswer = (messages: readonly ChatMessage[]) => Record<string, unknown> | ToolCallsAnswer;

function isToolCalls(answer: Record<string, unknown> | ToolCallsAnswer): answer is ToolCallsAnswer {
  return Array.isArray(answer['toolCalls']);
}

/** Serves POST /v1/chat/completions with the scripted answers; counts the calls it answered. */
export class ScriptedOpenAIServer {
  calls = 0;
  /** The `model` field of each call answered, in order. */
  readonly models: string[] = [];
  private readonly server: Server;

  constructor(private readonly answer: ScriptedAnswer) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Listens on 127.0.0.1 (a free port unless `port` is given); resolves with the base URL (…/v1). */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
        model?: string;
        messages?: ChatMessage[];
      };
      if (!req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.url ?? ''}` } }));
        return;
      }
      this.calls++;
      this.models.push(body.model ?? '');
      const messages = body.messages ?? [];
      const answer = this.answer(messages);
      const content = isToolCalls(answer) ? answer.text : JSON.stringify(answer);
      const toolCalls = isToolCalls(answer)
        ? answer.toolCalls.map((call, i) => ({
            id: `call_${this.calls}_${i}`,
            type: 'function',
            function: { name: call.name, arguments: JSON.stringify(call.arguments) },
          }))
        : undefined;
      const promptTokens = messages.reduce((n, m) => n + Math.ceil((m.content ?? '').length / 4), 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: `chatcmpl-${this.calls}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: body.model ?? 'scripted',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content, ...(toolCalls && { tool_calls: toolCalls }) },
              finish_reason: toolCalls ? 'tool_calls' : 'stop',
            },
          ],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: Math.ceil(content.length / 4),
            total_tokens: promptTokens + Math.ceil(content.length / 4),
          },
        }),
      );
    });
  }
}
