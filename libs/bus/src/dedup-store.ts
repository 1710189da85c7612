import type { EventIdentity } from '@llmbus/contracts';
import { LRUCache } from 'lru-cache';

/** Remembers which events (by tenant, source and id) a consumer group has fully handled. */
export interface DedupStore {
  has(groupId: string, event: EventIdentity): Promise<boolean>;
  add(groupId: string, event: EventIdentity): Promise<void>;
}

/**
 * Bounded in-memory memory of handled events. After a restart a redelivered event is handled
 * again; its outputs carry the same derived ids, so downstream de-duplication still holds.
 */
export class InMemoryDedupStore implements DedupStore {
  private readonly seen: LRUCache<string, true>;

  constructor(maxEntries = 100_000) {
    this.seen = new LRUCache({ max: maxEntries });
  }

  async has(groupId: string, event: EventIdentity): Promise<boolean> {
    return this.seen.has(keyOf(groupId, event));
  }

  async add(groupId: string, event: EventIdentity): Promise<void> {
    this.seen.set(keyOf(groupId, event), true);
  }
}

function keyOf(groupId: string, event: EventIdentity): string {
  return JSON.stringify([groupId, event.tenantid, event.source, event.id]);
}
