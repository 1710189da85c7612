import { LRUCache } from 'lru-cache';
import type { ScoredChunk } from '../vector-store';
import { contentStems } from './relevance';

/**
 * The BM25 matches whose title, headings and text contain at least `share` of the query's content
 * words (Porter2 stems; at least one word), in their order. A match of an identifier-like query
 * word (with a digit, inner capitals or an underscore: `E4711`, `PaymentsGatewayDown`, `max_conn`)
 * is always kept: exact codes are what keyword search is for, and they are rare, so a share of
 * words would misjudge them.
 */
export function withMinimumMatch(chunks: ScoredChunk[], query: string, share: number): ScoredChunk[] {
  if (share <= 0) return chunks;
  const wanted = new Set(contentStems(query));
  if (wanted.size === 0) return chunks;
  const required = Math.max(1, Math.ceil(share * wanted.size - 1e-9));
  const identifiers = new Set(
    (query.match(/[\p{L}\p{N}_]+/gu) ?? [])
      .filter((w) => /\d|_|\p{Ll}\p{Lu}/u.test(w))
      .flatMap((w) => contentStems(w)),
  );
  return chunks.filter((c) => {
    const own = passageStems([c.payload.title, ...c.payload.sectionPath, c.payload.text].join(' '));
    let matched = 0;
    for (const stem of wanted) {
      if (!own.has(stem)) continue;
      if (identifiers.has(stem)) return true;
      matched += 1;
    }
    return matched >= required;
  });
}

/** Passages whose stems are kept, at most (their texts are the keys: about 1 KB each). */
const MAX_KEPT_PASSAGES = 2_000;
/**
 * The content stems of passages matched lately, by text, least recently used out. The same passages
 * match query after query, and stemming a passage's text cost more than the rest of the filter.
 */
const PASSAGE_STEMS = new LRUCache<string, ReadonlySet<string>>({
  max: MAX_KEPT_PASSAGES,
  memoMethod: (text) => new Set(contentStems(text)),
});

/** The set of a passage's content stems (see PASSAGE_STEMS). */
function passageStems(text: string): ReadonlySet<string> {
  return PASSAGE_STEMS.memo(text);
}
