import { createSecretKey, type KeyObject } from 'node:crypto';
import type { PiiDetector } from './pii-detector';
import { PiiMasker, restoreValue } from './pii-masker';
import type { PiiActions } from './pii-policy';
import { openVault, PiiVault, PiiVaultError, sealVault, type SealedPiiVault } from './pii-vault';

/**
 * Data minimisation for one stage: masks prompts before they go to a model not trusted with PII,
 * carries the placeholder mapping encrypted, and prepares outputs for a channel (restored, then
 * masked or redacted as the workflow's policy says). Holds no request state: each request has its
 * own vault, which lives only as long as the request's handling.
 */
export class PiiProtection {
  readonly masker: PiiMasker;
  /** The key imported once, so sealing and opening do not import it at every call. */
  private readonly key: KeyObject | undefined;
  /** The current key then the previous ones: what `open` tries, in order. */
  private readonly openingKeys: readonly KeyObject[];

  /**
   * `key`: the 32-byte AES-256-GCM key of LLMBUS_PII_KEY (or the process key in embedded mode), which
   * seals; `previousKeys` (LLMBUS_PII_PREVIOUS_KEYS) only open what was sealed under them.
   */
  constructor(detector: PiiDetector, key: Buffer | undefined, previousKeys: readonly Buffer[] = []) {
    this.masker = new PiiMasker(detector);
    this.key = key === undefined ? undefined : createSecretKey(key);
    this.openingKeys =
      this.key === undefined ? [] : [this.key, ...previousKeys.map((k) => createSecretKey(k))];
  }

  /** Whether mappings can be sealed (a key is configured). */
  get canSeal(): boolean {
    return this.key !== undefined;
  }

  /** The messages with their entities masked per `actions`, all under one vault. */
  maskMessages(messages: readonly string[], actions: PiiActions): { messages: string[]; vault: PiiVault } {
    const vault = new PiiVault();
    return { messages: messages.map((m) => this.masker.maskText(m, actions, vault)), vault };
  }

  /** The vault encrypted for an event about `requestId`; throws `pii_key_missing` without a key. */
  seal(vault: PiiVault, requestId: string): SealedPiiVault {
    return sealVault(vault, this.requireKey(), requestId);
  }

  /** The vault of a generation (an empty one when the prompt was not masked). */
  open(sealed: SealedPiiVault | undefined, requestId: string): PiiVault {
    if (sealed === undefined) return new PiiVault();
    this.requireKey();
    return openVault(sealed, this.openingKeys, requestId);
  }

  /** `value` with placeholders restored, then entities masked or redacted as `actions` say. */
  forChannel<T>(value: T, actions: PiiActions, vault: PiiVault): T {
    return this.masker.maskValue(restoreValue(value, vault), actions, vault);
  }

  private requireKey(): KeyObject {
    if (this.key === undefined) {
      throw new PiiVaultError(
        'pii_key_missing',
        'LLMBUS_PII_KEY is not set: prompts to models not trusted for PII are masked and the mapping travels encrypted; ' +
          'set the same 32-byte key (openssl rand -base64 32) on the generator and the validator',
      );
    }
    return this.key;
  }
}
