#!/usr/bin/env node
// npm test: build (type-check), then the test tiers (unit, deploy, integration+e2e), cheapest
// first, stopping at the first failure. Integration and e2e share one jest run so their
// globalSetup finds or starts Kafka and PostgreSQL once (see test/support/global-setup.ts);
// --runInBand because they share those services.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'node_modules', '.bin');

const phases = [
  { name: 'build', cmd: 'tsc', args: ['-b', 'tsconfig.build.json'], needs: 'tsconfig.build.json' },
  { name: 'lint', cmd: 'npm', args: ['run', '--silent', 'lint'], bin: false },
  { name: 'unit', cmd: 'jest', args: ['--selectProjects', 'unit'] },
  { name: 'deploy', cmd: 'jest', args: ['--selectProjects', 'deploy'] },
  { name: 'integration+e2e', cmd: 'jest', args: ['--selectProjects', 'integration', 'e2e', '--runInBand'] },
];

const env = { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' };
const timings = [];
const counts = { passed: 0, failed: 0, skipped: 0 };
const resultsDir = mkdtempSync(join(tmpdir(), 'llmbus-test-results-'));
let failed;

for (const phase of phases) {
  if (phase.needs && !existsSync(join(ROOT, phase.needs))) {
    console.warn(`\n=== ${phase.name}: skipped, ${phase.needs} does not exist`);
    continue;
  }
  console.log(`\n=== ${phase.name}: ${phase.cmd} ${phase.args.join(' ')}`);
  // jest's JSON report goes to a file (its usual output still reaches the terminal) for the totals.
  const report = join(resultsDir, `${phase.name}.json`);
  const args = phase.cmd === 'jest' ? [...phase.args, '--json', `--outputFile=${report}`] : phase.args;
  const started = process.hrtime.bigint();
  const result = spawnSync(phase.bin === false ? phase.cmd : join(BIN, phase.cmd), args, { cwd: ROOT, env, stdio: 'inherit' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (existsSync(report)) addCounts(JSON.parse(readFileSync(report, 'utf8')));
  timings.push(`${phase.name} ${seconds.toFixed(1)}s`);
  console.log(`=== ${phase.name}: ${result.status === 0 ? 'ok' : 'FAILED'} in ${seconds.toFixed(1)}s`);
  if (result.status !== 0) {
    failed = phase.name;
    if (result.error) console.error(result.error.message);
    break;
  }
}

rmSync(resultsDir, { recursive: true, force: true });
console.log(`\n=== timings: ${timings.join(', ')}`);
// One plain totals line across all tiers, for readers (and CI) that do not parse jest's summary.
console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
if (failed) {
  console.error(`=== npm test failed in phase "${failed}"`);
  process.exit(1);
}

function addCounts(jestReport) {
  counts.passed += jestReport.numPassedTests;
  counts.failed += jestReport.numFailedTests;
  counts.skipped += jestReport.numPendingTests + jestReport.numTodoTests;
}
