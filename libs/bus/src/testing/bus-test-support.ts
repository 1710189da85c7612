import type { RequestSubmitted } from '@llmbus/contracts';

/**
 * Waits until `check` holds, polling every 5 ms; rejects after `ms` milliseconds. For the bus's
 * in-process tests, which wait on handled events instead of sleeping.
 */
export async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A minimal valid RequestSubmitted payload for `requestId`. */
export function submitted(requestId: string): RequestSubmitted {
  return { requestId, eventType: 'ticket.created', input: { subject: 's' }, requester: { groups: [] } };
}
