import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { PII_KEY_BYTES } from '@llmbus/pii';

/** File under LLMBUS_DATA_DIR that keeps embedded mode's PII key when LLMBUS_PII_KEY is not set. */
export const PII_KEY_FILE = 'pii.key';

/**
 * The PII key of an embedded platform that keeps its data (LLMBUS_DATA_DIR). Without
 * `configured` (LLMBUS_PII_KEY unset) it is read from `<dataDir>/pii.key` (32 random bytes, base64,
 * one line), made there on first start (mode 0600; written to a temporary file and linked into
 * place, so the file never exists half-written and two processes racing agree on one key). The
 * audit trail seals each payload's raw values under this key; a key drawn afresh per run left the
 * trail of every earlier request unreadable after a restart (its status and trail answered 500).
 *
 * With `configured` (LLMBUS_PII_KEY set) that key is used, and the file is only checked: when it
 * exists and holds another key, the trail already written under the file's key would become
 * unreadable, so this throws instead of starting, unless the file's key is among `previous`
 * (LLMBUS_PII_PREVIOUS_KEYS: a rotation, under which the earlier trail stays readable).
 *
 * Throws an Error naming the file and what to do when it is not a regular file, is readable or
 * writable by group or others (checked after its content), cannot be read, does not hold 32 bytes of base64, or disagrees with
 * `configured`.
 */
export function embeddedPiiKey(
  dataDir: string,
  configured?: Buffer,
  previous: readonly Buffer[] = [],
): Buffer {
  const path = join(dataDir, PII_KEY_FILE);
  if (configured !== undefined) {
    const kept = existingKey(path);
    if (kept !== undefined && ![configured, ...previous].some((key) => sameKey(kept, key))) {
      throw new Error(
        `LLMBUS_PII_KEY is not the key in ${path}, under which the trail in LLMBUS_DATA_DIR was sealed, and that key ` +
          `is not listed in LLMBUS_PII_PREVIOUS_KEYS: with it the raw values of every earlier request could not be read. ` +
          `Unset LLMBUS_PII_KEY to keep using the file's key, or set LLMBUS_PII_KEY to the file's content, or, to rotate ` +
          `to the new key, add the file's content to LLMBUS_PII_PREVIOUS_KEYS; only to give up the earlier trails' raw ` +
          `values, move ${path} away`,
      );
    }
    return configured;
  }
  mkdirSync(dataDir, { recursive: true });
  return existingKey(path) ?? createKey(path);
}

/** The key the file holds, or undefined when there is no file; throws when it is not a usable key file. */
function existingKey(path: string): Buffer | undefined {
  let stats: Stats;
  try {
    // A link is followed (a secret mounted by Kubernetes is one); one to nothing is refused.
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read the PII key file ${path}: ${(error as Error).message}`);
    }
    if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    throw new Error(`${path} is a link to nothing: restore the PII key file it named, or remove the link`);
  }
  if (!stats.isFile()) {
    throw new Error(
      `${path} is not a regular file (a ${stats.isDirectory() ? 'directory' : 'special file'}): it must be the PII key ` +
        `file of LLMBUS_DATA_DIR; restore the file from a backup, or remove it if this data directory holds no trail yet`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new Error(`cannot read the PII key file ${path}: ${(error as Error).message}`);
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== PII_KEY_BYTES || key.toString('base64') !== text) {
    throw new Error(
      `${path} does not hold a PII key (32 random bytes, base64${text.length === 0 ? '; the file is empty' : ''}): ` +
        `restore it from a backup, or set LLMBUS_PII_KEY to the key the data was written with; without it the trail's ` +
        `raw values cannot be read`,
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new Error(
      `${path} is accessible by group or others (mode ${(stats.mode & 0o777).toString(8)}): the PII key unseals the ` +
        `trail's raw values; run \`chmod 600 ${path}\``,
    );
  }
  return key;
}

/**
 * Makes the key file, complete or not at all; the key of whichever process made it first. The key
 * is written to a temporary file and flushed to disk (fsync) before it is linked into place, and the
 * folder is flushed after: linked unflushed, a power loss could leave an empty pii.key beside a trail
 * already sealed under the key. Throws naming the file and LLMBUS_DATA_DIR when it cannot be written
 * (a full disk), leaving no temporary file behind.
 */
function createKey(path: string): Buffer {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeFileSync(fd, `${randomBytes(PII_KEY_BYTES).toString('base64')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    syncFolder(dirname(path));
  } catch (error) {
    throw new Error(
      `cannot write the PII key file ${path} in LLMBUS_DATA_DIR: ${(error as Error).message}; free space in or ` +
        `give write access to the folder and start again`,
    );
  } finally {
    rmSync(temporary, { force: true });
  }
  return existingKey(path)!;
}

/** Flushes a folder's entries (the new link) to disk; where folders cannot be opened so, skipped. */
function syncFolder(folder: string): void {
  let fd: number;
  try {
    fd = openSync(folder, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
