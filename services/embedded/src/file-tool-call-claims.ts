import { createHash } from 'node:crypto';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ToolCallClaims } from '@llmbus/tools';

/**
 * Execution claims of side-effecting tool calls kept as files in a folder (the embedded mode's
 * `LLMBUS_DATA_DIR/tool-claims`), so they outlive the process: a request resumed by the next start
 * whose `write` or `high` call was started before the stop finds the claim and does not run the
 * call again (ToolGate records it as `outcome_unknown`), as a Kafka deployment's Redis claims do.
 * One file per claim, named by the SHA-256 of its key (the key names a tenant and a call id, never
 * personal data), created with O_EXCL so exactly one taker wins; it holds the claim's expiry
 * (epoch ms). A file left empty by a crash between its creation and its write counts as taken.
 * An expired claim is replaced. Expired files are not removed otherwise (one small file per
 * side-effecting call). File system errors reject the claim, so the call does not run; a claim file
 * that could not be written (a full disk) is removed, so the retry takes the claim and runs the call.
 */
export class FileToolCallClaims implements ToolCallClaims {
  private ready: Promise<unknown> | undefined;

  constructor(
    private readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  async claim(key: string, ttlMs: number): Promise<boolean> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.ready;
    const file = join(this.dir, createHash('sha256').update(key).digest('hex'));
    // Twice at most: the second time after an expired claim was removed.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.create(file, this.now() + Math.max(1, Math.round(ttlMs)))) return true;
      const expiresAt = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      // Unreadable, empty (a crash mid-write) or unexpired: taken.
      if (!Number.isFinite(expiresAt) || expiresAt === 0 || expiresAt > this.now()) return false;
      await unlink(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    return false;
  }

  /** Creates the claim file holding `expiresAt`; false when it exists. */
  private async create(file: string, expiresAt: number): Promise<boolean> {
    let handle;
    try {
      handle = await open(file, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      await handle.writeFile(String(expiresAt));
    } catch (error) {
      // Not written (a full disk): the claim was never given, so its call has not run. Left empty,
      // the file would read as taken by a crash mid-write, and the call be recorded as
      // outcome_unknown on the retry instead of running.
      await handle.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw error;
    }
    await handle.close();
    return true;
  }
}
