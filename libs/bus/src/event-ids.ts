import type { EventIdentity } from '@llmbus/contracts';
import { v5 as uuidv5 } from 'uuid';

const NAMESPACE = '5d3c8a3e-6c1b-4f59-9a8e-2f7a1c0e9b41';

/**
 * The id of an event a stage emits while handling another: the same cause (tenant, source and id),
 * stage, attempt and output slot always give the same id, so a redelivered input produces
 * duplicates that every consumer recognises and drops, while two causes that only share an id
 * (another producer or tenant) never produce the same ids.
 */
export function deriveEventId(cause: EventIdentity, stage: string, attempt: number, slot: string): string {
  // A JSON array keeps the parts apart whatever characters a source or id holds.
  return uuidv5(JSON.stringify([cause.tenantid, cause.source, cause.id, stage, attempt, slot]), NAMESPACE);
}
