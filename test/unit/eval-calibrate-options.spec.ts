import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// eval:calibrate fitted with --lambda abc (NaN coefficients, printed as the model to paste) and
// took an unknown --class-weights for "none"; both are refused before anything is read.
const CALIBRATE = join(__dirname, '..', '..', 'eval', 'retrieval', 'calibrate.mjs');

function run(...args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [CALIBRATE, '--from', '/nonexistent/features.json', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe('eval:calibrate options', () => {
  it.each([
    [['--lambda', 'abc'], /--lambda: "abc" is not a number ≥ 0/],
    [['--lambda=-1'], /--lambda: "-1" is not a number ≥ 0/],
    [['--class-weights', 'equal'], /--class-weights: "equal" is not balanced or none/],
  ])('refuses %j naming the option', (args, message) => {
    const { status, stderr } = run(...args);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/ENOENT/);
    expect(status).toBe(1);
  });
});
