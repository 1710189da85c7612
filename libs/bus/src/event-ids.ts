import { v5 as uuidv5 } from 'uuid';

const NAMESPACE = '5d3c8a3e-6c1b-4f59-9a8e-2f7a1c0e9b41';

/**
 * The id of an event a stage emits while handling another: the same input, stage, attempt and
 * output slot always give the same id, so a redelivered input produces duplicates that every
 * consumer recognises and drops.
 */
export function deriveEventId(inputId: string, stage: string, attempt: number, slot: string): string {
  return uuidv5(`${inputId}|${stage}|${attempt}|${slot}`, NAMESPACE);
}
