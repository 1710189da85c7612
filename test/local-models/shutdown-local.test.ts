// A process that stops while the local models work must exit cleanly: the shutdown path
// (abortInFlight once the grace period is over, then close) in each phase of the work, with the
// real models in their worker thread. Disposing the model under a running generation used to end
// the worker thread during a native call, and node-llama-cpp's addon then aborted the whole
// process (`terminate called after throwing an instance of 'Napi::Error'`, exit 134). Each phase
// runs in a child process of its own (test/local-models/fixtures/model-shutdown.js, from the built
// libs: `npm run build` first), since a native abort would take jest down with it. The last phase
// exits with the call still running (process.exit, as a second signal does). Without the
// local models the suite is skipped loudly; with CI or LLMBUS_REQUIRE_MODELS set it fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelsConfig } from '@llmbus/models';

jest.setTimeout(900_000);

const ROOT = join(__dirname, '..', '..');
const FIXTURE = join(__dirname, 'fixtures', 'model-shutdown.js');
const modelsConfig = parseModelsConfig({ ...process.env, LLMBUS_MODEL_PROVIDER: 'local' });
const chatPath = modelsConfig.local.chatModelPath ?? join(modelsConfig.modelsDir, 'gemma-3-270m-q4_k_m.gguf');
const embeddingPath =
  modelsConfig.local.embeddingModelPath ?? join(modelsConfig.modelsDir, 'all-minilm-l6-v2-f32.gguf');
const mustRun = Boolean(process.env.CI) || process.env.LLMBUS_REQUIRE_MODELS === '1';
const missing = !existsSync(chatPath) || !existsSync(embeddingPath);
if (missing && !mustRun) {
  console.warn(
    `\n${'!'.repeat(78)}\n  SKIPPING the local model shutdown test: ${chatPath} or ${embeddingPath} not found.\n` +
      `  Run \`npm run models:pull\` (or set LLMBUS_MODELS_DIR).\n${'!'.repeat(78)}\n`,
  );
}
const describeWithModel = missing && !mustRun ? describe.skip : describe;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly report?: { phase: string; outcome: string; deltasAtStop: number };
}

function runPhase(phase: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, phase], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = stdout.split('\n').find((text) => text.startsWith(`{"phase":`));
      resolve({
        code,
        signal,
        stderr,
        report: line === undefined ? undefined : (JSON.parse(line) as Run['report']),
      });
    });
  });
}

describeWithModel('stopping the local models in every phase of their work', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'libs', 'models', 'dist', 'local', 'llama-worker.mjs')))
      throw new Error('libs/models is not built: run `npm run build` before the local-models tests');
  });

  it.each([
    ['idle', 'none'],
    ['prompt', 'aborted'],
    ['generation', 'aborted'],
    ['embedding', 'aborted'],
    ['close-during-generation', 'aborted'],
    ['exit-during-generation', 'exit'],
  ])('%s: the call in flight ends %s and the process exits 0', async (phase, outcome) => {
    const run = await runPhase(phase);
    expect(run.stderr).not.toContain('Napi::Error');
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
    expect(run.report).toMatchObject({ phase, outcome });
    // The phase was the one named: no token yet while the prompt was evaluated, some while generating.
    if (phase === 'prompt') expect(run.report?.deltasAtStop).toBe(0);
    if (phase.includes('generation')) expect(run.report?.deltasAtStop).toBeGreaterThan(0);
  });
});
