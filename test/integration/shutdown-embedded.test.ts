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
import { PgliteAuditStore } from '@llmbus/audit';
import { workflowsWithoutConfidence } from '../support/workflows-fixture';

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

/**
 * Answers embeddings at once; holds every chat call open until the caller hangs up, unless `answer`
 * is set: then chat calls get it as their JSON content.
 */
class SilentModel {
  readonly chatArrived = new Flag();
  readonly chatAbandoned = new Flag();
  /** The JSON object chat calls are answered with (undefined: they are never answered). */
  answer: Record<string, unknown> | undefined;
  /** Chat calls answered. */
  answered = 0;
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
      if (this.answer) {
        this.answered += 1;
        const content = JSON.stringify(this.answer);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${this.answered}`,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model: 'silent',
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
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

/**
 * Starts the embedded process on the model at `modelUrl`, keeping its data in `dataDir` ('' = in
 * memory), with the workflows of `workflowsDir` when given.
 */
async function startEmbedded(
  modelUrl: string,
  graceMs: number,
  dataDir: string,
  workflowsDir?: string,
): Promise<Embedded> {
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
      ...(workflowsDir && { LLMBUS_WORKFLOWS_DIR: workflowsDir }),
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
  workflowsDir?: string,
): Promise<Embedded & { readonly requestId: string }> {
  const embedded = await startEmbedded(
    await model.start(await freePortPair()),
    graceMs,
    dataDir,
    workflowsDir,
  );
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

  it('resumes the request it stopped in the middle of on the next start with its data, which completes it once', async () => {
    const root = mkdtempSync(join(tmpdir(), 'llmbus-shutdown-'));
    const dataDir = join(root, 'data');
    // Support tickets on version 1 (no classifier step, no evidence-based confidence): the answer
    // below is accepted as it is, so the request completes without a reviewer.
    const workflowsDir = workflowsWithoutConfidence(root);
    const first = await startWithCallInFlight(model, 1_000, dataDir, workflowsDir);
    embedded = first;
    first.child.kill('SIGTERM');
    expect((await within(first.exited, 60_000, 'the exit after SIGTERM', first.output)).code).toBe(0);

    // The in-process bus lost the event; the next start publishes it again from the trail.
    model.answer = {
      category: 'account',
      priority: 'high',
      reply:
        'Please check your spam folder for the reset email, then request a new one from the sign-in page.',
      citations: [],
      needsHuman: false,
      confidence: 0.9,
    };
    embedded = await startEmbedded(model.url, 1_000, dataDir, workflowsDir);
    // Long polls (30 s each, the most the API waits) until it has an outcome, or four of them passed.
    let status: { status: string; failure?: unknown } = { status: 'unknown' };
    for (let poll = 0; poll < 4 && !['completed', 'failed'].includes(status.status); poll++) {
      const response = await fetch(`${embedded.url}/v1/requests/${first.requestId}?waitMs=30000`, {
        headers: { 'x-api-key': API_KEY },
      });
      expect(response.status).toBe(200);
      status = (await response.json()) as { status: string; failure?: unknown };
    }
    expect(status).toMatchObject({ status: 'completed' });
    expect(model.answered).toBeGreaterThan(0);
    const output = embedded.output();
    expect(output).toContain('interrupted request resumed from its last recorded event');
    // Taken up after its routing: from the routed or the retrieved request, not from its submission.
    expect(output).toMatch(/"eventType":"llmbus\.(request\.routed|context\.retrieved)"[^\n]*resumed/);
    expect(output).not.toContain('could not be resumed');
    const second = embedded;
    second.child.kill('SIGTERM');
    expect((await within(second.exited, 60_000, 'the second exit', second.output)).code).toBe(0);

    // The trail the two runs wrote: one outcome, every event id once, and its hash chain intact.
    const store = await PgliteAuditStore.open({ dataDir });
    try {
      const trail = await store.trail('acme', first.requestId);
      const types = trail.map((r) => r.envelope.type);
      expect(types.filter((t) => t === 'llmbus.request.completed')).toHaveLength(1);
      expect(types).not.toContain('llmbus.request.failed');
      const ids = trail.map((r) => `${r.envelope.source} ${r.envelope.id}`);
      expect(new Set(ids).size).toBe(ids.length);
      const reports = await store.verifyChains();
      expect(reports.length).toBeGreaterThan(0);
      for (const report of reports) expect(report.broken).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses a second process on the same data directory while the first runs, naming it', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'llmbus-shutdown-')), 'data');
    embedded = await startEmbedded(model.url, 1_000, dataDir);
    // Its stores would write the same files: whichever stopped last overwrote the other's trail.
    const second = startEmbedded(model.url, 1_000, dataDir);
    await expect(second).rejects.toThrow(/exited \(1\) during start-up/);
    await expect(second).rejects.toThrow(
      new RegExp(
        `LLMBUS_DATA_DIR ${dataDir} is in use by another llmbus process \\(lock ${join(dataDir, 'llmbus.lock')}`,
      ),
    );
    // The first still answers.
    const health = await fetch(`${embedded.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
