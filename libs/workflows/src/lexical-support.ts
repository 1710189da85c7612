/**
 * Word-level text measures the validator can compute without a model: content words, claim
 * sentences, lexical support of a sentence by passages, and n-gram overlap with instructions.
 */

import { keptPerText } from './kept-per-text';

// Function words carry no claim; keeping them would let any sentence look "supported".
const STOP_WORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does doing for from had has have having ' +
    'he her here hers him his how i if in into is it its itself just me my no nor not of off on once ' +
    'only or other our ours out over own same she should so some such than that the their theirs them ' +
    'then there these they this those through to too under until up very was we were what when where ' +
    'which while who whom why will with would you your yours yourself also any all each few more most ' +
    'about above after again against before below between both down during further hi hello thanks ' +
    'thank please dear regards best kind let us may might must shall one'
  ).split(' '),
);

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

/** The lowercased words of a text, in order (letters and digits; an apostrophe suffix stays attached). */
export function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).map((w) => w.replace(/['’]/g, "'"));
}

/** Strips common English inflections so "expires"/"expired"/"expiring" compare equal. */
export function stem(word: string): string {
  if (/^\d/.test(word) || word.length <= 3) return word;
  for (const suffix of ['ing', 'ed', 'es', 's']) {
    if (word.endsWith(suffix) && word.length - suffix.length >= 3) return word.slice(0, -suffix.length);
  }
  return word;
}

/** The stemmed content words of a text: stop words and possessive/contraction suffixes dropped. */
export function contentWords(text: string): string[] {
  return wordsOf(text)
    .map((w) => w.replace(/'.*$/, ''))
    .filter((w) => w.length > 0 && !STOP_WORDS.has(w))
    .map(stem);
}

/** Fewer content words than this and a sentence is a greeting or filler, not a claim to ground. */
export const MIN_CLAIM_WORDS = 3;

/**
 * The claim sentences of a text: split after `.`, `!` or `?` followed by white space (so "1.5" and
 * "v2.0" stay whole) and at line breaks; sentences with fewer than MIN_CLAIM_WORDS content words
 * ("Hi Dana,", "Thanks!") are left out.
 */
export function claimSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => contentWords(s).length >= MIN_CLAIM_WORDS);
}

/**
 * Lexical support of a sentence by source texts: the share (0 to 1) of the sentence's distinct
 * content words that occur in the sources. 1 when the sentence has no content words.
 */
export function lexicalSupport(sentence: string, sourceVocabulary: ReadonlySet<string>): number {
  const words = new Set(contentWords(sentence));
  if (words.size === 0) return 1;
  let found = 0;
  for (const word of words) if (sourceVocabulary.has(word)) found++;
  return found / words.size;
}

/**
 * The set of content words of several texts, for repeated lexicalSupport calls. Each text's content
 * words are remembered (keptPerText): the sources are passages cited request after request.
 */
export function vocabularyOf(texts: readonly string[]): Set<string> {
  const vocabulary = new Set<string>();
  for (const text of texts) for (const word of sourceWordsOf(text)) vocabulary.add(word);
  return vocabulary;
}

/** contentWords of a source text, each once, remembered for the texts seen lately. */
const sourceWordsOf = keptPerText((text): readonly string[] => [...new Set(contentWords(text))]);

/** The word n-grams of a text (all words, stop words included), joined with spaces. */
export function wordNgrams(text: string, n: number): string[] {
  const words = wordsOf(text);
  const grams: string[] = [];
  for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join(' '));
  return grams;
}

/**
 * The share (0 to 1) of the text's word n-grams that also occur in the reference n-grams; undefined
 * when the text is shorter than n words (too short to tell copying from coincidence).
 */
export function ngramOverlap(text: string, reference: ReadonlySet<string>, n: number): number | undefined {
  const grams = wordNgrams(text, n);
  if (grams.length === 0) return undefined;
  return grams.filter((g) => reference.has(g)).length / grams.length;
}
