// BM25 for stores that can filter by words but not rank by them (Qdrant's full-text index matches
// and filters; it does not score). PGlite computes the same formula in SQL.

const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could do does for from had has have how i if in into is it its ' +
    'me my no not of on or our should so than that the their them then there these they this to was we ' +
    'were what when where which who why will with would you your'
  ).split(' '),
);

/**
 * Lower-case words of a text without stop words; with `fold` (default), a light English suffix
 * folding so "policies" meets "policy". Qdrant's full-text index does not fold, so its queries don't.
 */
export function lexicalTerms(text: string, options: { fold?: boolean } = {}): string[] {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOP_WORDS.has(w));
  return options.fold === false ? words : words.map(foldSuffix);
}

function foldSuffix(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

export interface Bm25Statistics {
  /** Documents in the collection the scores are relative to. */
  readonly documentCount: number;
  /** Mean document length, in terms. */
  readonly averageLength: number;
  /** Documents containing each term. */
  readonly documentFrequency: ReadonlyMap<string, number>;
}

/** BM25 (k1 1.2, b 0.75) of a document's terms for the distinct query terms. */
export function bm25Score(
  queryTerms: readonly string[],
  documentTerms: readonly string[],
  stats: Bm25Statistics,
): number {
  const tf = new Map<string, number>();
  for (const term of documentTerms) tf.set(term, (tf.get(term) ?? 0) + 1);
  const lengthNorm = 0.25 + (0.75 * documentTerms.length) / Math.max(stats.averageLength, 1);
  let score = 0;
  for (const term of new Set(queryTerms)) {
    const f = tf.get(term);
    if (!f) continue;
    const df = stats.documentFrequency.get(term) ?? 0;
    const idf = Math.log(1 + (stats.documentCount - df + 0.5) / (df + 0.5));
    score += (idf * f * 2.2) / (f + 1.2 * lengthNorm);
  }
  return score;
}

/**
 * The text with the parts of CamelCase and snake_case identifiers appended ("PaymentsGatewayDown" →
 * "… Payments Gateway Down"), so a lexical query for an alert or class name also meets prose that
 * spells the service out ("payments-gateway").
 */
export function withIdentifierParts(text: string): string {
  const parts: string[] = [];
  for (const token of text.match(/[\p{L}\p{N}_]+/gu) ?? []) {
    const split = token
      .replace(/_/g, ' ')
      .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
      .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2');
    if (split !== token) parts.push(split);
  }
  return parts.length ? `${text} ${parts.join(' ')}` : text;
}
