import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';

/** Lock of LLMBUS_DATA_DIR held by the embedded process using it (a directory, made and refreshed by proper-lockfile). */
export const DATA_DIR_LOCK = 'llmbus.lock';

/** How the data directory's lock is taken (see lockDataDir). */
export interface DataDirLockOptions {
  /**
   * Milliseconds without a refresh after which a lock counts as left by a process that died (kill
   * -9, power loss) and is taken over; the holder refreshes it every third of this. Default 15 s.
   */
  readonly staleMs?: number;
  /**
   * How long to wait for a live holder to stop (a restart while the process before is still in
   * its shutdown grace period) before giving up, in milliseconds. Default 60 s.
   */
  readonly waitMs?: number;
  /** Told once when the lock is held by another process and this one starts waiting. */
  readonly onWait?: (message: string) => void;
  /**
   * Called when the lock was lost while held (not refreshed for `staleMs`, so another process may
   * have taken it over): the process must stop writing at once. Default: print and exit 1.
   */
  readonly onLost?: (error: Error) => void;
}

/**
 * Takes the lock that makes one embedded process at a time use `dataDir` (LLMBUS_DATA_DIR): the
 * embedded audit and vector stores (PGlite) are one database process each, so a second process on
 * the same folder writes the same files, and whichever closes last overwrites the other's writes:
 * requests one accepted (202) vanished from the trail without a failure or a resume. The lock is
 * `<dataDir>/llmbus.lock`, refreshed while held and removed on exit; one whose holder died is
 * taken over once stale (`staleMs`). Resolves with its release; rejects, naming LLMBUS_DATA_DIR and
 * the lock, when another live process still holds it after `waitMs`, and at once when something
 * other than a directory is at the lock's path (no llmbus process made it: it is left in place).
 */
export async function lockDataDir(
  dataDir: string,
  options: DataDirLockOptions = {},
): Promise<() => Promise<void>> {
  const { staleMs = 15_000, waitMs = 60_000, onWait, onLost = exitOnLost } = options;
  makeDataDir(dataDir);
  const lockfilePath = join(dataDir, DATA_DIR_LOCK);
  refuseNonDirectoryLock(dataDir, lockfilePath);
  const attempt = (retries: number) =>
    lock(dataDir, {
      lockfilePath,
      stale: staleMs,
      update: Math.max(1_000, Math.floor(staleMs / 3)),
      retries: { retries, factor: 1, minTimeout: 500, maxTimeout: 500 },
      onCompromised: onLost,
    });
  try {
    return await attempt(0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockError(dataDir, lockfilePath, error);
  }
  onWait?.(
    `LLMBUS_DATA_DIR ${dataDir} is in use by another llmbus process (lock ${lockfilePath}); waiting up to ` +
      `${Math.round(waitMs / 1000)} s for it to stop (a lock left by a process that died is taken over ` +
      `${Math.round(staleMs / 1000)} s after its last refresh)`,
  );
  try {
    return await attempt(Math.max(1, Math.ceil(waitMs / 500)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockError(dataDir, lockfilePath, error);
    throw new Error(
      `LLMBUS_DATA_DIR ${dataDir} is in use by another llmbus process (lock ${lockfilePath}, refreshed while it runs): ` +
        `stop that process first, or give this one another LLMBUS_DATA_DIR. Two processes on one data directory ` +
        `overwrite each other's audit trail. A lock left by a process that died is taken over ${Math.round(staleMs / 1000)} s ` +
        `after its last refresh`,
    );
  }
}

/** Makes LLMBUS_DATA_DIR if missing; an error names the variable and what is in the way. */
function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'a file (not a folder) is at that path or on the way to it'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? 'this process may not create or write it'
          : message;
    throw new Error(
      `LLMBUS_DATA_DIR ${dataDir} cannot be used as the data folder: ${why} (${code ?? 'error'}); ` +
        `point LLMBUS_DATA_DIR at a folder this process can write, or unset it for the default`,
      { cause: error },
    );
  }
}

/**
 * Refuses a lock path holding something else than a directory (a file left by hand or by another
 * tool): proper-lockfile would take it for a live lock until stale, then fail on ENOTDIR removing it.
 */
function refuseNonDirectoryLock(dataDir: string, lockfilePath: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = lstatSync(lockfilePath).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isDirectory) throw notADirectory(dataDir, lockfilePath);
}

function notADirectory(dataDir: string, lockfilePath: string): Error {
  return new Error(
    `LLMBUS_DATA_DIR ${dataDir}: ${lockfilePath} is not a directory (llmbus's lock is one), so no llmbus ` +
      `process made it: remove it once no other process uses the folder, then start again`,
  );
}

/** An error of proper-lockfile other than ELOCKED, told as the lock's problem. */
function lockError(dataDir: string, lockfilePath: string, error: unknown): unknown {
  // A file put at the lock's path while this process waited.
  return (error as NodeJS.ErrnoException).code === 'ENOTDIR' ? notADirectory(dataDir, lockfilePath) : error;
}

function exitOnLost(error: Error): void {
  process.stderr.write(
    `llmbus lost the lock of LLMBUS_DATA_DIR (${error.message}): another process may be using the data ` +
      `directory; exiting to stop writing to it\n`,
  );
  process.exit(1);
}
