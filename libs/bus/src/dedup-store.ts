import { LRUCache } from 'lru-cache';

/** Remembers which event ids a consumer group has fully handled. */
export interface DedupStore {
  has(groupId: string, eventId: string): Promise<boolean>;
  add(groupId: string, eventId: string): Promise<void>;
}

/**
 * Bounded in-memory memory of handled ids. After a restart a redelivered event is handled again;
 * its outputs carry the same derived ids, so downstream de-duplication still holds.
 */
export class InMemoryDedupStore implements DedupStore {
  private readonly seen: LRUCache<string, true>;

  constructor(maxEntries = 100_000) {
    this.seen = new LRUCache({ max: maxEntries });
  }

  async has(groupId: string, eventId: string): Promise<boolean> {
    return this.seen.has(`${groupId}\u0000${eventId}`);
  }

  async add(groupId: string, eventId: string): Promise<void> {
    this.seen.set(`${groupId}\u0000${eventId}`, true);
  }
}
