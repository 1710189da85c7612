import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// bench:retrieval dropped a scale that was not a number (`--scales 10k` measured nothing and
// exited 0), raised --queries below 10 silently and skipped or never bounded a part given bad
// seconds. Every option is checked before anything loads.
const BENCH = join(__dirname, '..', '..', 'bench', 'retrieval.bench.mjs');

describe('bench:retrieval options', () => {
  it.each([
    [['--scales', '10k'], /--scales: "10k" is not a whole number from 1 to 10000000/],
    [['--scales', '10000,'], /--scales: "" is not a whole number/],
    [['--queries', '5'], /--queries: "5" is not a whole number from 10 to 100000/],
    [['--ingest-seconds', 'abc'], /--ingest-seconds: "abc" is not a whole number from 0 to 86400/],
    [['--load-seconds', '0'], /--load-seconds: "0" is not a whole number from 1 to 86400/],
  ])('refuses %j naming the option', (args, message) => {
    const result = spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(1);
  });
});
