import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PII_KEY_BYTES } from '@llmbus/pii';

/** File under LLMBUS_DATA_DIR that keeps embedded mode's PII key when LLMBUS_PII_KEY is not set. */
export const PII_KEY_FILE = 'pii.key';

/**
 * The PII key of an embedded platform that keeps its data (LLMBUS_DATA_DIR) but was given no
 * LLMBUS_PII_KEY: read from `<dataDir>/pii.key` (32 random bytes, base64, one line), made there on
 * first start (mode 0600, created exclusively, so two processes racing agree on one key). The
 * audit trail seals each payload's raw values under this key; a key drawn afresh per run left the
 * trail of every earlier request unreadable after a restart (its status and trail answered 500).
 * Throws, naming the file, when it exists but does not hold 32 bytes of base64.
 */
export function embeddedPiiKey(dataDir: string): Buffer {
  const path = join(dataDir, PII_KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(path, `${randomBytes(PII_KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const text = readFileSync(path, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (key.length !== PII_KEY_BYTES || key.toString('base64') !== text) {
    throw new Error(
      `${path} does not hold a PII key (32 random bytes, base64): restore it from a backup, or set LLMBUS_PII_KEY to the key the data was written with; without it the trail's raw values cannot be read`,
    );
  }
  return key;
}
