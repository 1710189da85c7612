import { LRUCache } from 'lru-cache';

/** Texts kept at most by a keptPerText function. */
const MAX_KEPT_TEXTS = 2_000;
/** Longer texts are computed at every call rather than kept as keys. */
const MAX_KEPT_TEXT_CHARS = 20_000;

/**
 * `compute` remembered for the last 2,000 texts of up to 20,000 characters (least recently used
 * out; longer texts are computed at every call): the passages a validator reads recur from request
 * to request. The values returned are shared: read them, never change them.
 */
export function keptPerText<V extends object>(compute: (text: string) => V): (text: string) => V {
  const kept = new LRUCache<string, V>({
    max: MAX_KEPT_TEXTS,
    maxEntrySize: MAX_KEPT_TEXT_CHARS,
    sizeCalculation: (_value, text) => Math.max(1, text.length),
    memoMethod: compute,
  });
  return (text) => kept.memo(text);
}
