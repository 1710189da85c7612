import type { SupersessionLink } from '../vector-store';

/** Which documents retrieval leaves out, and what each replacement replaces through the links. */
export interface Supersession {
  /** Ids of the documents retired on the day asked: superseded by a live document in effect. */
  readonly retired: ReadonlySet<string>;
  /**
   * The ids a document replaces, directly or through other links (withdrawn documents included):
   * where a replacement not yet in effect ranks after. Empty for an id that supersedes nothing.
   */
  replacedBy(documentId: string): ReadonlySet<string>;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Decides retirement from the scope's supersession links on `asOf` (ISO date, `YYYY-MM-DD`).
 *
 * - A document is retired when a live document in effect on `asOf` (no effective date, or one on
 *   or before it) reaches it by following `supersedes`, through any documents in between: live ones,
 *   ones not yet in effect, or withdrawn ones whose links remain. Deleting the middle of
 *   2023 ← 2024 ← 2025 so keeps 2023 retired by 2025; deleting 2025 alone brings 2024 back.
 * - Documents that reach each other (a cycle, which ingestion refuses but two submissions racing
 *   under different keys can still store) would retire one another: the cycle's newest member in
 *   effect (latest effective date, then highest version label, then id) stays live unless
 *   something outside the cycle supersedes it, so a cycle never hides all its documents.
 *
 * Links are few (only replacement documents carry them): every walk is over that small graph.
 */
export function supersessionOf(links: readonly SupersessionLink[], asOf: string): Supersession {
  const next = new Map<string, readonly string[]>();
  const live = new Map<string, SupersessionLink>();
  for (const link of links) {
    // A live document's links win over a withdrawn one's of the same id (resubmitted since).
    if (link.withdrawn && live.has(link.documentId)) continue;
    if (!link.withdrawn) live.set(link.documentId, link);
    next.set(link.documentId, link.supersedes);
  }
  const reach = new Map<string, ReadonlySet<string>>();
  const reachOf = (from: string): ReadonlySet<string> => {
    let found = reach.get(from);
    if (found) return found;
    const seen = new Set<string>();
    const stack = [...(next.get(from) ?? [])];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      for (const n of next.get(id) ?? []) if (!seen.has(n)) stack.push(n);
    }
    found = seen;
    reach.set(from, found);
    return found;
  };
  const inEffect = (id: string) => {
    const link = live.get(id);
    return link !== undefined && (link.effectiveDate ?? '') <= asOf;
  };
  const roots = [...live.keys()].filter(inEffect);
  // The members of `id`'s cycle (itself included), and the one of them that stays live.
  const survivorOf = (id: string): string | undefined => {
    const members = [id, ...[...reachOf(id)].filter((m) => m !== id && reachOf(m).has(id))];
    return members.filter(inEffect).sort(newestFirst(live))[0];
  };
  const retired = new Set<string>();
  for (const root of roots) {
    for (const id of reachOf(root)) {
      if (id === root || retired.has(id)) continue;
      // Within a cycle, its survivor is retired only by a document outside the cycle.
      const sameCycle = reachOf(id).has(root);
      if (sameCycle && survivorOf(id) === id) continue;
      retired.add(id);
    }
  }
  return { retired, replacedBy: (id) => (next.has(id) ? reachOf(id) : NONE) };
}

/**
 * Orders version labels as people read them: numbers inside compared as numbers ("2023.10" after
 * "2023.9", "FY2025" after "FY2024"), case ignored. Shared by retirement and ranking.
 */
export const VERSION_LABELS = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Latest effective date first, then the higher version label ("FY2025" over "FY2024"), then the id. */
function newestFirst(live: ReadonlyMap<string, SupersessionLink>): (a: string, b: string) => number {
  return (a, b) => {
    const la = live.get(a);
    const lb = live.get(b);
    return (
      (lb?.effectiveDate ?? '').localeCompare(la?.effectiveDate ?? '') ||
      VERSION_LABELS.compare(lb?.versionLabel ?? '', la?.versionLabel ?? '') ||
      (a < b ? -1 : a > b ? 1 : 0)
    );
  };
}
