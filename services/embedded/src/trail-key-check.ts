import type { AuditRecord } from '@llmbus/audit';
import {
  PiiVaultError,
  openVault,
  storedEventContext,
  SEALED_VAULT_FIELD,
  type SealedPiiVault,
} from '@llmbus/pii';

/**
 * Whether the trail an embedded platform keeps (LLMBUS_DATA_DIR) was sealed under `key`: `samples`
 * are its first and last records with a sealed PII mapping (SqlAuditStore.sealedRecordSamples);
 * `key` may be the current key followed by LLMBUS_PII_PREVIOUS_KEYS (a record opening under any is readable).
 * Undefined when each opens (or there is none); otherwise what to tell the operator: a trail sealed
 * under another key (an LLMBUS_PII_KEY set before and unset since, so a fresh pii.key was made, or
 * changed) answers its raw values to no one, which was noticed only when a pii-reader asked.
 */
export function trailKeyProblem(
  samples: readonly AuditRecord[],
  key: Buffer | readonly Buffer[],
): string | undefined {
  const unreadable = samples.filter((record) => {
    const sealed = (record.envelope.data as Record<string, unknown>)[SEALED_VAULT_FIELD];
    if (sealed === undefined) return false;
    try {
      const { tenantid, source, id } = record.envelope;
      openVault(sealed as SealedPiiVault, key, storedEventContext(tenantid, source, id));
      return false;
    } catch (error) {
      if (error instanceof PiiVaultError) return true;
      throw error;
    }
  });
  if (unreadable.length === 0) return undefined;
  const when = unreadable
    .map((record) => record.recordedAt)
    .sort()
    .join(' and ');
  return (
    `the audit trail in LLMBUS_DATA_DIR holds records (recorded ${when}) sealed under another PII key than ` +
    `the one this process runs with: their raw values cannot be read (the trail answers 500 pii_key_mismatch to ` +
    `a pii-reader). Run with the key they were written with: set LLMBUS_PII_KEY to it, or restore ` +
    `LLMBUS_DATA_DIR/pii.key from a backup (after a rotation, list the old key in LLMBUS_PII_PREVIOUS_KEYS)`
  );
}
