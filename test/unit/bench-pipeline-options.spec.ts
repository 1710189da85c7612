import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// bench:pipeline used to clamp bad numbers silently (--rate abc ran at 20/s, --rate 0 at 20/s,
// --count 3 as 10), print a stack trace for an unknown option, and check --kill and --startup only
// once it had run the relay, started five stage processes and warmed them up, then exit without
// stopping them or deleting its topics. Every option is now checked before anything starts.
const BENCH = join(__dirname, '..', '..', 'bench', 'pipeline.bench.mjs');

/** Runs the bench with no broker configured: a bad option must be refused before it is needed. */
function run(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const env = { ...process.env };
  delete env['KAFKA_BROKERS'];
  delete env['DATABASE_URL'];
  delete env['QDRANT_URL'];
  const result = spawnSync(process.execPath, [BENCH, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('bench:pipeline options', () => {
  it.each([
    [['--rate', 'abc'], /--rate: "abc" is not a number from 1 to 2000/],
    [['--rate', '0'], /--rate: "0" is not a number from 1 to 2000/],
    [['--count', '3'], /--count: "3" is not a whole number from 10 to 20000/],
    [['--warmup', 'x'], /--warmup: "x" is not a whole number from 0 to 1000/],
    [['--model-latency-ms', '20000'], /--model-latency-ms: "20000" is not a number from 0 to 10000/],
    [['--kill', 'routr'], /--kill takes all or stage names .*: routr/],
    [['--startup', 'generator,nope'], /--startup takes all or stage names .*: nope/],
    [['--kill', 'router', '--kill-signal', 'SIGFOO'], /--kill-signal: "SIGFOO" is not a signal/],
    [['--stage-env', 'NOEQUALS'], /--stage-env: "NOEQUALS" is not VAR=value/],
    [['--replicas', 'generator=1'], /--replicas takes <stage>=<2\.\.12>/],
    [['--bogus'], /bench:pipeline: Unknown option '--bogus'/],
    [
      ['--replicas', 'retriever=2'],
      /--replicas retriever=2: a second retriever replica needs a shared vector store \(QDRANT_URL\)/,
    ],
    [
      ['--kill', 'retriever', '--kill-replica'],
      /--kill-replica with --kill retriever: a second retriever replica needs/,
    ],
    [['--embedded', '--count', '3'], /--count: "3" is not a whole number from 10 to 20000/],
    [['--embedded', '--concurrency', '0'], /--concurrency: "0" is not a whole number from 1 to 64/],
  ])('refuses %j naming the option, before it needs a broker', (args, message) => {
    const { status, stderr } = run(...args);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/needs KAFKA_BROKERS|\n\s+at /);
    expect(status).toBe(1);
  });

  it('prints its usage for --help and exits 0 without a broker', () => {
    const { status, stdout, stderr } = run('--help');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^usage: npm run bench:pipeline -- \[options\]/);
    expect(stdout).toMatch(/--kill generator\|all/);
    expect(stdout).toMatch(/--startup all/);
    expect(status).toBe(0);
  });

  it('accepts good options and only then asks for the broker', () => {
    const { status, stderr } = run('--rate', '5', '--count', '10', '--kill', 'router,validator');
    expect(stderr).toMatch(/needs KAFKA_BROKERS and DATABASE_URL/);
    expect(status).toBe(1);
  });
});
