import { randomBytes } from 'node:crypto';
import type { PiiDetector } from './pii-detector';
import { allowsAll, type PiiActions } from './pii-policy';
import { PII_KEY_BYTES, PLACEHOLDER, PiiVault } from './pii-vault';

/** The text that stands for a redacted entity. */
export const redactionMarker = (type: string): string => `[${type} redacted]`;

/**
 * Applies a channel's actions to text: each detected entity is masked with the vault's placeholder,
 * redacted for good, or kept. Placeholders already in the text are left as they are, so masking is
 * idempotent.
 */
export class PiiMasker {
  constructor(readonly detector: PiiDetector) {}

  /** `text` with its entities masked or redacted per `actions`; placeholders go into `vault`. */
  maskText(text: string, actions: PiiActions, vault: PiiVault): string {
    if (allowsAll(actions) || text.length === 0) return text;
    let out = '';
    let at = 0;
    for (const span of this.detector.detect(text)) {
      const action = actions[span.type];
      if (action === 'allow' || isPlaceholder(span.text)) continue;
      out += text.slice(at, span.start);
      out += action === 'mask' ? vault.placeholderFor(span.type, span.text) : redactionMarker(span.type);
      at = span.end;
    }
    return out + text.slice(at);
  }

  /** Every string inside a JSON-like value masked per `actions`; keys, numbers and booleans kept. */
  maskValue<T>(value: T, actions: PiiActions, vault: PiiVault): T {
    if (allowsAll(actions)) return value;
    return mapStrings(value, (text) => this.maskText(text, actions, vault)) as T;
  }
}

/** `text` with every placeholder the vault issued replaced by its value; unknown ones are kept. */
export function restoreText(text: string, vault: PiiVault): string {
  if (vault.size === 0) return text;
  return text.replace(PLACEHOLDER, (placeholder) => vault.valueOf(placeholder) ?? placeholder);
}

/** Every string inside a JSON-like value restored from the vault. */
export function restoreValue<T>(value: T, vault: PiiVault): T {
  return mapStrings(value, (text) => restoreText(text, vault)) as T;
}

function isPlaceholder(text: string): boolean {
  return /^<[A-Z_]+_\d+>$/.test(text);
}

function mapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, map));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, mapStrings(inner, map)]));
  }
  return value;
}

let processKey: Buffer | undefined;

/**
 * A random AES-256 key for this process, for embedded mode where the generator and the validator
 * share the process and no mapping leaves it. Distributed stages need LLMBUS_PII_KEY instead.
 */
export function processPiiKey(): Buffer {
  processKey ??= randomBytes(PII_KEY_BYTES);
  return processKey;
}
