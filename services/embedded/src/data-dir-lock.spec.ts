import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR_LOCK, lockDataDir } from './data-dir-lock';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'llmbus-data-')), 'data');

describe('lockDataDir: one embedded process at a time on LLMBUS_DATA_DIR', () => {
  it('refuses a second process while the first runs, naming the variable and the lock', async () => {
    const dir = fresh();
    const release = await lockDataDir(dir);
    const waits: string[] = [];
    await expect(lockDataDir(dir, { waitMs: 1_000, onWait: (m) => waits.push(m) })).rejects.toThrow(
      new RegExp(
        `^LLMBUS_DATA_DIR ${dir} is in use by another llmbus process \\(lock ${join(dir, DATA_DIR_LOCK)}`,
      ),
    );
    expect(waits).toHaveLength(1);
    await release();
    // Released (the first process stopped): the next one takes it at once.
    const next = await lockDataDir(dir, { waitMs: 0 });
    await next();
  });

  it('names LLMBUS_DATA_DIR when a file is at its path, instead of a bare EEXIST', async () => {
    const dir = fresh();
    mkdirSync(join(dir, '..'), { recursive: true });
    writeFileSync(dir, 'not a folder');
    await expect(lockDataDir(dir, { waitMs: 0 })).rejects.toThrow(
      `LLMBUS_DATA_DIR ${dir} cannot be used as the data folder: a file (not a folder) is at that path`,
    );
  });

  it('waits for a process in its shutdown grace period, and starts once it has stopped', async () => {
    const dir = fresh();
    const release = await lockDataDir(dir);
    const waiting = lockDataDir(dir, { waitMs: 10_000 });
    setTimeout(() => void release(), 1_000);
    const next = await waiting;
    await next();
  });

  it('takes over the lock of a process that died without releasing it (kill -9), once stale', async () => {
    const dir = fresh();
    mkdirSync(join(dir, DATA_DIR_LOCK), { recursive: true });
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(join(dir, DATA_DIR_LOCK), longAgo, longAgo);
    const release = await lockDataDir(dir, { staleMs: 15_000, waitMs: 0 });
    await release();
  });

  it.each([
    ['stale', 60_000],
    ['fresh', 0],
  ])(
    'stops at once, naming it, on a %s file (not a lock directory) where the lock goes, and leaves it',
    async (_kind, age) => {
      const dir = fresh();
      mkdirSync(dir, { recursive: true });
      const path = join(dir, DATA_DIR_LOCK);
      writeFileSync(path, 'not a lock');
      const when = new Date(Date.now() - age);
      utimesSync(path, when, when);
      const waits: string[] = [];
      await expect(
        lockDataDir(dir, { staleMs: 15_000, waitMs: 5_000, onWait: (m) => waits.push(m) }),
      ).rejects.toThrow(
        new RegExp(`^LLMBUS_DATA_DIR ${dir}: ${path} is not a directory \\(llmbus's lock is one\\)`),
      );
      // Not a wait for a process that does not exist, nor a bare ENOTDIR from rmdir.
      expect(waits).toEqual([]);
      expect(existsSync(path)).toBe(true);
    },
  );
});
