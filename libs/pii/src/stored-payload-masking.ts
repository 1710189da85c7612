import { PiiVault, type SealedPiiVault } from './pii-vault';
import { restoreValue } from './pii-masker';
import type { PiiActions } from './pii-policy';
import type { PiiProtection } from './pii-protection';

/** Field of a stored payload that holds its sealed placeholder mapping. */
export const SEALED_VAULT_FIELD = '_piiVault';

type Payload = Readonly<Record<string, unknown>>;

/** The context a stored event's mapping is sealed to: what identifies the event (tenant, source, id). */
export function storedEventContext(tenantId: string, source: string, id: string): string {
  return `${tenantId}/${source}/${id}`;
}

/**
 * Masking of payloads kept at rest (the audit trail). With a key, a payload is stored masked per
 * the channel's actions and its mapping sealed into SEALED_VAULT_FIELD (`context`, e.g. the event's
 * tenant and id, bound as additional data), so raw values can be given back to whoever may see
 * them. Without a key it is stored as received and masked when read.
 */
export class StoredPayloadMasking {
  constructor(private readonly protection: PiiProtection) {}

  /** The payload as it is to be stored. */
  forStorage(data: Payload, actions: PiiActions, context: string): Record<string, unknown> {
    if (!this.protection.canSeal) return { ...data };
    const vault = new PiiVault();
    const masked = this.maskOutsideSealed(data, actions, vault);
    return vault.size === 0
      ? masked
      : { ...masked, [SEALED_VAULT_FIELD]: this.protection.seal(vault, context) };
  }

  /** The payload as a reader sees it: raw values when `raw`, else masked; never the sealed field. */
  forReader(stored: Payload, actions: PiiActions, context: string, raw: boolean): Record<string, unknown> {
    const { [SEALED_VAULT_FIELD]: sealed, ...data } = stored;
    if (sealed !== undefined) {
      return raw ? restoreValue(data, this.protection.open(sealed as SealedPiiVault, context)) : data;
    }
    return raw ? data : this.maskOutsideSealed(data, actions, new PiiVault());
  }

  /**
   * The payload masked except its top-level sealed vaults (a generation's `piiVault`): those are
   * AES-GCM ciphertext in base64, up to 400 kB, which carry no readable entity; scanning them
   * cost detector time per event and a false match (a token-like run of base64) would have
   * altered the ciphertext, so the mapping could no longer be opened.
   */
  private maskOutsideSealed(data: Payload, actions: PiiActions, vault: PiiVault): Record<string, unknown> {
    const rest: Record<string, unknown> = {};
    const sealed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data)) (isSealedVault(value) ? sealed : rest)[key] = value;
    return { ...this.protection.masker.maskValue(rest, actions, vault), ...sealed };
  }

  /** The placeholder mapping of a stored payload (empty when it was stored raw). */
  vaultOf(stored: Payload, context: string): PiiVault {
    const sealed = stored[SEALED_VAULT_FIELD] as SealedPiiVault | undefined;
    return sealed === undefined ? new PiiVault() : this.protection.open(sealed, context);
  }
}

/** A sealed vault as events carry it: `{ alg: 'A256GCM', iv, tag, data }`, every field a string. */
function isSealedVault(value: unknown): value is SealedPiiVault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const fields = value as Record<string, unknown>;
  return (
    Object.keys(fields).length === 4 &&
    fields['alg'] === 'A256GCM' &&
    typeof fields['iv'] === 'string' &&
    typeof fields['tag'] === 'string' &&
    typeof fields['data'] === 'string'
  );
}
