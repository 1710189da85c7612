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
    const own = stemsOf([c.payload.title, ...c.payload.sectionPath, c.payload.text].join(' '));
    let matched = 0;
    for (const stem of wanted) {
      if (!own.has(stem)) continue;
      if (identifiers.has(stem)) return true;
      matched += 1;
    }
    return matched >= required;
  });
}

/** Stem sets of the chunk texts seen lately (cleared when full): the same chunks match query after query. */
const CHUNK_STEMS = new Map<string, ReadonlySet<string>>();
const MAX_CHUNK_TEXTS = 2_000;
/** Longer texts are stemmed at every call rather than kept as keys of the map. */
const MAX_KEPT_TEXT_CHARS = 20_000;

function stemsOf(text: string): ReadonlySet<string> {
  let stems = CHUNK_STEMS.get(text);
  if (stems !== undefined) return stems;
  stems = new Set(contentStems(text));
  if (text.length <= MAX_KEPT_TEXT_CHARS) {
    if (CHUNK_STEMS.size >= MAX_CHUNK_TEXTS) CHUNK_STEMS.clear();
    CHUNK_STEMS.set(text, stems);
  }
  return stems;
}
