import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedPiiKey, PII_KEY_FILE } from './pii-key-file';

describe('embeddedPiiKey', () => {
  it('makes a 32-byte key on first start, readable only by the owner, and gives the same key after a restart', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'llmbus-pii-key-')), 'data');
    const first = embeddedPiiKey(dir);
    expect(first).toHaveLength(32);
    expect(statSync(join(dir, PII_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(embeddedPiiKey(dir).equals(first)).toBe(true);
    expect(readFileSync(join(dir, PII_KEY_FILE), 'utf8').trim()).toBe(first.toString('base64'));
  });

  it('refuses a key file that does not hold 32 bytes of base64, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    writeFileSync(join(dir, PII_KEY_FILE), 'not a key\n');
    expect(() => embeddedPiiKey(dir)).toThrow(new RegExp(`${PII_KEY_FILE} does not hold a PII key`));
  });
});
