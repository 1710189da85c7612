#!/usr/bin/env node
// npm run test:chaos: the fault suite (test/chaos) on a Kafka broker and a PostgreSQL of its own.
// The suite restarts both, so it never uses the services of `npm test` or a developer's shell:
// it starts them with infra/kafka.sh and infra/postgres.sh on ports and a run dir of its own, and
// stops them (and any service process the suite left behind) on every exit, pass or fail.
//
// Env: CHAOS_PROFILE=short|full (short), CHAOS_KAFKA_PORT (39092), CHAOS_KAFKA_CONTROLLER_PORT
// (39093), CHAOS_PG_PORT (35432), CHAOS_KEEP_RUN_DIR=1 keeps the run dir (logs) after the run.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');
const PROFILES = { short: 20 * 60, full: 90 * 60 }; // wall-clock bound of the jest run, seconds

const profile = process.env.CHAOS_PROFILE ?? 'short';
if (!(profile in PROFILES)) {
  console.error(`CHAOS_PROFILE=${profile} is not one of: ${Object.keys(PROFILES).join(', ')}`);
  process.exit(2);
}
const kafkaPort = portVar('CHAOS_KAFKA_PORT', 39092);
const controllerPort = portVar('CHAOS_KAFKA_CONTROLLER_PORT', 39093);
const pgPort = portVar('CHAOS_PG_PORT', 35432);
const runDir = `${process.env.TMPDIR ?? '/tmp'}/llmbus-chaos-${process.pid}`;
// World-traversable: PostgreSQL runs as the `postgres` user when this runs as root.
mkdirSync(join(runDir, 'pids'), { recursive: true });
chmodSync(runDir, 0o755);

// Exactly these values for every infra call, whatever the caller's shell exported (a shell that
// sourced the shared-services env has KAFKA_PORT and friends pointing at services others use).
const infraEnv = {
  ...process.env,
  KAFKA_PORT: String(kafkaPort),
  KAFKA_CONTROLLER_PORT: String(controllerPort),
  PG_PORT: String(pgPort),
  LLMBUS_RUN_DIR: runDir,
};

let jest;
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\n=== chaos: ${signal}, stopping`);
    if (jest && jest.exitCode === null) jest.kill('SIGTERM');
    else void finish(130);
  });
}

let code = 1;
try {
  code = await run();
} catch (error) {
  console.error(`=== chaos: ${error instanceof Error ? error.message : String(error)}`);
  code = 1;
}
await finish(code);

async function run() {
  console.log(
    `=== chaos: profile ${profile}, Kafka 127.0.0.1:${kafkaPort}, PostgreSQL 127.0.0.1:${pgPort}, run dir ${runDir}`,
  );
  step('build', join(BIN, 'tsc'), ['-b', 'tsconfig.build.json'], process.env);
  const brokers = step('kafka up', 'bash', [join(ROOT, 'infra', 'kafka.sh'), 'up'], infraEnv).trim();
  const databaseUrl = step(
    'postgres up',
    'bash',
    [join(ROOT, 'infra', 'postgres.sh'), 'up'],
    infraEnv,
  ).trim();
  const report = join(runDir, 'jest.json');
  const env = {
    ...infraEnv,
    KAFKA_BROKERS: brokers,
    DATABASE_URL: databaseUrl,
    CHAOS_PROFILE: profile,
    CHAOS_RUN_DIR: runDir,
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  console.log(`=== chaos: jest --selectProjects chaos (at most ${PROFILES[profile] / 60} min)`);
  const started = Date.now();
  // --forceExit: the suite's services are processes this script stops itself; a client handle left
  // open by a killed broker must not keep jest (and CI) waiting after the counts are in.
  jest = spawn(
    join(BIN, 'jest'),
    ['--selectProjects', 'chaos', '--runInBand', '--forceExit', '--json', `--outputFile=${report}`],
    { cwd: ROOT, env, stdio: 'inherit' },
  );
  const timer = setTimeout(() => {
    console.error(`=== chaos: still running after ${PROFILES[profile] / 60} min, stopping jest`);
    jest.kill('SIGTERM');
    setTimeout(() => jest.exitCode === null && jest.kill('SIGKILL'), 30_000).unref();
  }, PROFILES[profile] * 1000);
  const status = await new Promise((resolve) =>
    jest.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  clearTimeout(timer);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    console.log(`=== chaos: jest ${status === 0 ? 'ok' : 'FAILED'} in ${seconds}s`);
    // The plain totals line CI reads.
    console.log(`chaos: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  } else {
    console.log(`=== chaos: jest ended (exit ${status}) in ${seconds}s without a report`);
  }
  return status === 0 ? 0 : 1;
}

/** Stops what the suite left running and the infra, removes the run dir, and exits. */
async function finish(exitCode) {
  if (stopping) return;
  stopping = true;
  killLeftoverServices();
  for (const script of ['kafka.sh', 'postgres.sh']) {
    const down = spawnSync('bash', [join(ROOT, 'infra', script), 'down'], {
      env: infraEnv,
      stdio: 'inherit',
    });
    if (down.status !== 0) console.error(`=== chaos: infra/${script} down failed (exit ${down.status})`);
  }
  if (process.env.CHAOS_KEEP_RUN_DIR === '1') console.log(`=== chaos: run dir kept: ${runDir}`);
  else rmSync(runDir, { recursive: true, force: true });
  process.exit(exitCode);
}

/**
 * The suite records each service process it spawns as `pids/<pid>`; one still alive here outlived
 * a crashed jest. Only those pids, and only while their command line is still a service's.
 */
function killLeftoverServices() {
  const dir = join(runDir, 'pids');
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // already gone
    }
    if (!cmdline.includes(join(ROOT, 'services'))) continue;
    console.error(`=== chaos: killing leftover service process ${pid}`);
    try {
      process.kill(pid, 'SIGCONT'); // a paused process cannot act on SIGKILL's cleanup otherwise
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

function step(name, cmd, args, env) {
  const started = Date.now();
  const result = spawnSync(cmd, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`${name} failed (exit ${result.status ?? result.signal})`);
  console.log(`=== chaos: ${name} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return result.stdout;
}

function portVar(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1024 || port > 65535) {
    console.error(`${name}=${raw} is invalid: expected a port from 1024 to 65535`);
    process.exit(2);
  }
  if ([19092, 19093, 15432, 29092, 29093, 25432].includes(port)) {
    console.error(
      `${name}=${port} is a port of the shared or CI services; the fault suite restarts its own, pick another`,
    );
    process.exit(2);
  }
  return port;
}
