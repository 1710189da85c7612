import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// `npm start` runs scripts/start-embedded.mjs through `sh -c`, and npm passes a SIGTERM on to that
// shell only. The shell died of it without passing it on and npm exited, leaving the platform
// running, holding LLMBUS_DATA_DIR's lock and its ports. The wrapper's supervision
// (scripts/platform-child.mjs) now stops the platform when its shell has gone.
const SUPERVISOR = join(__dirname, '..', '..', 'scripts', 'platform-child.mjs');

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe('npm start wrapper', () => {
  let dir: string;
  let shell: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmbus-start-signals-'));
  });

  afterEach(() => {
    // Whatever is left of the fixture: its pids are in the files it wrote.
    for (const name of ['wrapper.pid', 'platform.pid']) {
      const file = join(dir, name);
      if (existsSync(file)) {
        try {
          process.kill(Number(readFileSync(file, 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    shell?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the platform with one SIGTERM when npm ends its shell with SIGTERM', async () => {
    // The "platform": records each signal, exits 0 a moment after the first SIGTERM.
    writeFileSync(
      join(dir, 'platform.mjs'),
      [
        "import { appendFileSync, writeFileSync } from 'node:fs';",
        `writeFileSync(${JSON.stringify(join(dir, 'platform.pid'))}, String(process.pid));`,
        "process.on('SIGTERM', () => {",
        `  appendFileSync(${JSON.stringify(join(dir, 'signals'))}, 'SIGTERM\\n');`,
        '  setTimeout(() => process.exit(0), 1500);',
        '});',
        'setInterval(() => undefined, 1000);',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'wrapper.mjs'),
      [
        "import { spawn } from 'node:child_process';",
        "import { writeFileSync } from 'node:fs';",
        `import { superviseChild } from ${JSON.stringify(SUPERVISOR)};`,
        `writeFileSync(${JSON.stringify(join(dir, 'wrapper.pid'))}, String(process.pid));`,
        `const child = spawn(process.execPath, [${JSON.stringify(join(dir, 'platform.mjs'))}], { stdio: 'inherit' });`,
        'superviseChild(child, false);',
      ].join('\n'),
    );
    // As npm runs a script: a shell that waits for the command (`; exit $?` keeps it from exec-ing).
    shell = spawn('sh', ['-c', `"${process.execPath}" "${join(dir, 'wrapper.mjs')}"; exit $?`], {
      stdio: 'ignore',
    });
    expect(await until(() => existsSync(join(dir, 'platform.pid')), 20_000)).toBe(true);

    shell.kill('SIGTERM');

    const signals = join(dir, 'signals');
    expect(await until(() => existsSync(signals), 10_000)).toBe(true);
    // The platform takes a second signal for "exit at once": the supervision sends one only.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(readFileSync(signals, 'utf8')).toBe('SIGTERM\n');
    const platformPid = Number(readFileSync(join(dir, 'platform.pid'), 'utf8'));
    expect(
      await until(() => {
        try {
          process.kill(platformPid, 0);
          return false;
        } catch {
          return true;
        }
      }, 10_000),
    ).toBe(true);
  });
});
