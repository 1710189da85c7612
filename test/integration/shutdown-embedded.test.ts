// Stopping `npm start` (the embedded process, services/embedded/dist/main.js) while a model call is
// in flight: the first SIGINT stops consuming, gives the call LLMBUS_SHUTDOWN_GRACE_MS, then aborts
// it through its AbortSignal and exits; a second SIGINT exits at once with 130. The model is an
// OpenAI-compatible endpoint in the test that never answers a chat call (it only notices when the
// caller hangs up), so without a bounded shutdown the process would wait for the call's deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..');
const EMBEDDING_DIMENSION = 1536;
const API_KEY = 'shutdown-test-key-0123456789';

/** Resolves once something happened; `wait` rejects naming it when the deadline passes first. */
class Flag {
  private resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => (this.resolve = resolve));
  raised = false;
  raise(): void {
    this.raised = true;
    this.resolve();
  }
}

async function within<T>(promise: Promise<T>, ms: number, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not happen within ${ms} ms; output:\n${output().slice(-4000)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Answers embeddings at once; holds every chat call open until the caller hangs up. */
class SilentModel {
  readonly chatArrived = new Flag();
  readonly chatAbandoned = new Flag();
  private readonly server: Server = createServer((req, res) => this.handle(req, res));
  /** Its OpenAI-compatible base URL once started. */
  url = '';

  async start(port: number): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${port}/v1`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if ((req.url ?? '').endsWith('/embeddings')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string[]; model: string };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            model: body.model,
            data: body.input.map((_, index) => ({
              object: 'embedding',
              index,
              embedding: Array.from({ length: EMBEDDING_DIMENSION }, (_v, i) => (i === 0 ? 1 : 0)),
            })),
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        );
        return;
      }
      this.chatArrived.raise();
      // Never answered: only the caller aborting its request ends it.
      res.on('close', () => this.chatAbandoned.raise());
    });
  }
}

/** Two consecutive free ports in 48000-48999 (the embedded process serves the audit API on port + 1). */
async function freePortPair(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createTcpServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 48_000 + Math.floor(Math.random() * 998);
    if ((await free(port)) && (await free(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports in 48000-48999');
}

interface Embedded {
  readonly child: ChildProcess;
  /** The ingress, e.g. http://127.0.0.1:48123. */
  readonly url: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Starts the embedded process on the model at `modelUrl`, keeping its data in `dataDir` ('' = in memory). */
async function startEmbedded(modelUrl: string, graceMs: number, dataDir: string): Promise<Embedded> {
  const port = await freePortPair();
  const child = spawn(process.execPath, [join(ROOT, 'services', 'embedded', 'dist', 'main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      LLMBUS_MODE: 'embedded',
      LLMBUS_SAMPLES: 'off',
      LLMBUS_DATA_DIR: dataDir,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      HTTP_PORT: String(port),
      API_KEYS: `${API_KEY}:acme:admin`,
      LLMBUS_MODEL_PROVIDER: 'openai',
      OPENAI_API_KEY: 'silent-not-a-key',
      OPENAI_BASE_URL: modelUrl,
      OPENAI_CHAT_MODEL: 'silent',
      OPENAI_TRUSTED_FOR_PII: 'true',
      OPENAI_MAX_RETRIES: '0',
      // The call's own deadline is far away: only the shutdown can end it within the test.
      OPENAI_TIMEOUT_MS: '600000',
      LLMBUS_SHUTDOWN_GRACE_MS: String(graceMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const embedded: Embedded = { child, exited, output: () => output, url: `http://127.0.0.1:${port}` };
  const running = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (output.includes('llmbus is running')) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
    void exited.then(({ code, signal }) => {
      clearInterval(poll);
      reject(
        new Error(`the embedded process exited (${code ?? signal}) during start-up:\n${output.slice(-4000)}`),
      );
    });
  });
  await within(running, 180_000, 'start-up', embedded.output);
  return embedded;
}

/** Starts the embedded process on the silent model, submits the sample ticket, and waits for its chat call. */
async function startWithCallInFlight(
  model: SilentModel,
  graceMs: number,
  dataDir = '',
): Promise<Embedded & { readonly requestId: string }> {
  const embedded = await startEmbedded(await model.start(await freePortPair()), graceMs, dataDir);
  const response = await fetch(`${embedded.url}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: readFileSync(join(ROOT, 'samples', 'tickets', 'password-reset.json'), 'utf8'),
  });
  expect(response.status).toBe(202);
  const { requestId } = (await response.json()) as { requestId: string };
  await within(model.chatArrived.promise, 120_000, 'the chat call', embedded.output);
  return { ...embedded, requestId };
}

describe('stopping the embedded process with a model call in flight', () => {
  let model: SilentModel;
  let embedded: Embedded | undefined;

  beforeEach(() => {
    model = new SilentModel();
  });

  afterEach(async () => {
    if (embedded && embedded.child.exitCode === null && embedded.child.signalCode === null) {
      embedded.child.kill('SIGKILL');
      await embedded.exited;
    }
    embedded = undefined;
    await model.stop();
  });

  it('aborts the call after the grace period and exits, leaving the event uncommitted instead of failing it', async () => {
    embedded = await startWithCallInFlight(model, 1_000);

    embedded.child.kill('SIGINT');
    const { code } = await within(embedded.exited, 60_000, 'the exit after SIGINT', embedded.output);

    expect(code).toBe(0);
    // The call was ended by the process (its AbortSignal), not left to its 600 s deadline.
    expect(model.chatAbandoned.raised).toBe(true);
    const output = embedded.output();
    expect(output).toContain('in-flight work did not finish within 1000 ms; aborting it');
    expect(output).toContain('handler aborted by shutdown; leaving the event uncommitted for redelivery');
    // Neither dead-lettered nor failed: stopping is not the request's fault.
    expect(output).not.toContain('"msg":"event rejected"');
    expect(output).not.toContain('"msg":"event dead-lettered');
  });

  it('exits at once with 130 on a second SIGINT', async () => {
    embedded = await startWithCallInFlight(model, 600_000);

    embedded.child.kill('SIGINT');
    await within(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (embedded!.output().includes('llmbus stopping')) {
            clearInterval(poll);
            resolve();
          }
        }, 20);
      }),
      30_000,
      'the stopping log line',
      embedded.output,
    );
    embedded.child.kill('SIGINT');
    const { code } = await within(embedded.exited, 30_000, 'the exit after a second SIGINT', embedded.output);

    expect(code).toBe(130);
    expect(embedded.output()).toContain('SIGINT again; exiting now');
  });

  it('fails the request it stopped in the middle of on the next start with its data, saying to submit it again', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'llmbus-shutdown-')), 'data');
    const first = await startWithCallInFlight(model, 1_000, dataDir);
    embedded = first;
    first.child.kill('SIGTERM');
    expect((await within(first.exited, 60_000, 'the exit after SIGTERM', first.output)).code).toBe(0);

    // The in-process bus lost the event: without the next start's sweep the status said "routed" for ever.
    embedded = await startEmbedded(model.url, 1_000, dataDir);
    const response = await fetch(`${embedded.url}/v1/requests/${first.requestId}?waitMs=30000`, {
      headers: { 'x-api-key': API_KEY },
    });
    expect(response.status).toBe(200);
    const status = (await response.json()) as { status: string; failure?: { code: string; message: string } };
    expect(status.status).toBe('failed');
    expect(status.failure).toMatchObject({
      code: 'processing_error',
      message: expect.stringMatching(/stopped before this request finished.*submit it again/),
    });
    expect(embedded.output()).toContain('accepted by an earlier run were not finished');
  });
});
