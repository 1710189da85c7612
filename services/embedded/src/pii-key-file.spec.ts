import fs from 'node:fs';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
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

  it('refuses an empty key file (a start cut short) saying it is empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    writeFileSync(join(dir, PII_KEY_FILE), '', { mode: 0o600 });
    expect(() => embeddedPiiKey(dir)).toThrow(/does not hold a PII key .*the file is empty/);
  });

  it('leaves no temporary file behind and never a key file another process could read half-written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    const key = embeddedPiiKey(dir);
    expect(readdirSync(dir)).toEqual([PII_KEY_FILE]);
    expect(embeddedPiiKey(dir).equals(key)).toBe(true);
  });

  it('refuses a directory in place of the key file, naming it, instead of a bare EISDIR', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    mkdirSync(join(dir, PII_KEY_FILE));
    expect(() => embeddedPiiKey(dir)).toThrow(
      new RegExp(`${PII_KEY_FILE} is not a regular file \\(a directory\\)`),
    );
  });

  it('refuses a key file that group or others can read, saying how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    embeddedPiiKey(dir);
    chmodSync(join(dir, PII_KEY_FILE), 0o644);
    expect(() => embeddedPiiKey(dir)).toThrow(/accessible by group or others \(mode 644\).*chmod 600/);
  });

  it('refuses an LLMBUS_PII_KEY other than the kept key, which would leave the earlier trails unreadable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    const kept = embeddedPiiKey(dir);
    expect(() => embeddedPiiKey(dir, randomBytes(32))).toThrow(/LLMBUS_PII_KEY is not the key in .*pii\.key/);
    expect(embeddedPiiKey(dir, Buffer.from(kept)).equals(kept)).toBe(true);
  });

  it('accepts a new LLMBUS_PII_KEY when the kept key is listed in LLMBUS_PII_PREVIOUS_KEYS, and says so when it is not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    const kept = embeddedPiiKey(dir);
    const rotated = randomBytes(32);
    expect(embeddedPiiKey(dir, rotated, [randomBytes(32), Buffer.from(kept)]).equals(rotated)).toBe(true);
    expect(() => embeddedPiiKey(dir, rotated, [randomBytes(32)])).toThrow(
      /not listed in LLMBUS_PII_PREVIOUS_KEYS.*add the file's content to LLMBUS_PII_PREVIOUS_KEYS/,
    );
    // The file keeps the old key: it is only checked while LLMBUS_PII_KEY is set.
    expect(readFileSync(join(dir, PII_KEY_FILE), 'utf8').trim()).toBe(kept.toString('base64'));
  });

  it('uses LLMBUS_PII_KEY as given when the data directory keeps no key file, writing none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    const configured = randomBytes(32);
    expect(embeddedPiiKey(dir, configured).equals(configured)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('follows a link to the key file (a mounted secret), and refuses a link to nothing, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    const secret = join(mkdtempSync(join(tmpdir(), 'llmbus-pii-secret-')), 'key');
    writeFileSync(secret, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    symlinkSync(secret, join(dir, PII_KEY_FILE));
    expect(embeddedPiiKey(dir).toString('base64')).toBe(readFileSync(secret, 'utf8').trim());
    const dangling = mkdtempSync(join(tmpdir(), 'llmbus-pii-key-'));
    symlinkSync(join(dangling, 'gone'), join(dangling, PII_KEY_FILE));
    expect(() => embeddedPiiKey(dangling)).toThrow(/pii\.key is a link to nothing/);
    expect(() => embeddedPiiKey(dangling, randomBytes(32))).toThrow(/pii\.key is a link to nothing/);
  });

  it('names the key file and LLMBUS_DATA_DIR when it cannot be written (a full disk), leaving nothing behind', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'llmbus-pii-key-')), 'data');
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const write = jest.spyOn(fs, 'writeFileSync').mockImplementationOnce(() => {
      throw full;
    });
    try {
      expect(() => embeddedPiiKey(dir)).toThrow(
        new RegExp(`^cannot write the PII key file ${join(dir, PII_KEY_FILE)} in LLMBUS_DATA_DIR: ENOSPC`),
      );
    } finally {
      write.mockRestore();
    }
    // No empty temporary file left in the data directory; the next start makes the key.
    expect(readdirSync(dir)).toEqual([]);
    expect(embeddedPiiKey(dir)).toHaveLength(32);
  });

  it('puts the key on disk before linking it into place (fsync), so a power loss leaves no empty key file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'llmbus-pii-key-')), 'data');
    const calls: string[] = [];
    const sync = jest.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
      calls.push(`fsync:${fs.fstatSync(fd).isDirectory() ? 'dir' : 'file'}`);
    });
    const link = jest.spyOn(fs, 'linkSync');
    link.mockImplementation((from, to) => {
      calls.push('link');
      link.mockRestore();
      fs.linkSync(from, to);
    });
    try {
      embeddedPiiKey(dir);
    } finally {
      sync.mockRestore();
      link.mockRestore();
    }
    expect(calls).toEqual(['fsync:file', 'link', 'fsync:dir']);
  });
});
