import porter2 from 'wink-porter2-stemmer';

/**
 * What says whether the passages found answer the question, beyond the best cosine similarity
 * (whose distributions for answerable and unanswerable questions overlap: a near miss such as
 * "does the company pay for a gym membership?" is as near to the benefits passages as a
 * paraphrased answerable question is to its answer). All on a 0-to-1 scale.
 */
export interface RelevanceFeatures {
  /** Best cosine similarity of the whole question among the readable chunks. */
  readonly bestCosine: number;
  /** `bestCosine` minus the fifth best (how far the best stands out from the rest). */
  readonly cosineMargin: number;
  /** Share of the question's content words (Porter2 stems) found in the best passage's title, headings or text. */
  readonly coverage: number;
  /** The same over the first three passages together (a two-part question's parts sit in different passages). */
  readonly coverageTop3: number;
  /**
   * For the content words that none of the first three passages contains: the lowest, over those
   * words, of the best cosine similarity between the word's embedding and one of those passages'
   * embeddings (a paraphrase's "vendor" is near a passage on suppliers, a near miss's "gym" is near
   * none). 1 when every word is found. Absent when not computed (`RelevanceEvidence.wordSimilarity`
   * not given: it costs an embedding per missing word and per passage).
   */
  readonly uncoveredMatch?: number;
  /** 1 when the vector list's nearest chunk is among the BM25 list's first five, else 0. */
  readonly listsAgree: number;
  /**
   * Best cosine similarity between the whole question and one sentence of the first three passages
   * (each sentence embedded alone): a sentence that says the answer stands out more than the chunk
   * around it, which also holds the sentences that do not. 0 when no passage has text. Absent when
   * not computed (`RelevanceEvidence.sentenceSimilarity` not given: it costs an embedding per
   * sentence not seen lately).
   */
  readonly bestSentenceCosine?: number;
}

/** The names of the features, in the order the relevance model's weights use. */
export const RELEVANCE_FEATURES = [
  'bestCosine',
  'cosineMargin',
  'coverage',
  'coverageTop3',
  'uncoveredMatch',
  'listsAgree',
  'bestSentenceCosine',
] as const satisfies readonly (keyof RelevanceFeatures)[];

/**
 * A logistic model over the features: relevance = σ(intercept + Σ weight × (feature − mean) / scale).
 * `mean` and `scale` standardise each feature as on the data the model was fitted on. A model may
 * use a subset of the features: those it does not name do not count.
 */
export interface RelevanceModel {
  readonly intercept: number;
  readonly features: Readonly<
    Partial<
      Record<
        keyof RelevanceFeatures,
        { readonly weight: number; readonly mean: number; readonly scale: number }
      >
    >
  >;
}

/**
 * Probability, 0 to 1, that the passages answer the question under `model`. A feature the model
 * names but `features` lacks counts as its mean (adds nothing): compute what the model uses.
 */
export function relevanceProbability(model: RelevanceModel, features: RelevanceFeatures): number {
  let z = model.intercept;
  for (const name of RELEVANCE_FEATURES) {
    const term = model.features[name];
    if (term === undefined) continue;
    const { weight, mean, scale } = term;
    z += (weight * ((features[name] ?? mean) - mean)) / (scale || 1);
  }
  return 1 / (1 + Math.exp(-z));
}

// Function words and the wording of questions ("how many", "do I need"): they say nothing about
// whether a passage covers the topic.
const NON_CONTENT = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being ' +
    'below between both but by can could did do does doing done down during each either else ever every ' +
    'few for from further get gets getting got had has have having he her here hers him his how i if in ' +
    'into is it its itself just let like many may me might mine more most much must my need needs no nor not ' +
    'now of off on once one only or other our ours out over own per please same shall she should so some ' +
    'such than that the their theirs them then there these they this those through to too under until up ' +
    'us use used very want wants was we were what whatever when where whether which while who whom whose ' +
    'why will with within without would yes yet you your yours'
  ).split(' '),
);

/** Stems of the words seen lately; cleared when full (words recur: a vocabulary, not a stream). */
const STEMS = new Map<string, string>();
const MAX_CACHED_STEMS = 100_000;

/**
 * The Porter2 (Snowball English) stem of a lower-cased word, memoised: stemming every word of
 * every candidate passage was most of a hybrid retrieval's CPU outside the store.
 */
function stem(word: string): string {
  let stemmed = STEMS.get(word);
  if (stemmed === undefined) {
    stemmed = porter2(word);
    if (STEMS.size >= MAX_CACHED_STEMS) STEMS.clear();
    STEMS.set(word, stemmed);
  }
  return stemmed;
}

/** The content words of a text: lower-cased, without function words, as Porter2 (Snowball English) stems. */
export function contentStems(text: string): string[] {
  return contentWords(text).map((w) => stem(w));
}

/** The content words of a text, lower-cased and unstemmed, without function words, each once, in order. */
export function contentWords(text: string): string[] {
  const words = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter(
    (w) => !NON_CONTENT.has(w) && (w.length > 1 || /\d/.test(w)),
  );
  return [...new Set(words)];
}

/** A passage as the features see it. */
export interface RelevancePassage {
  readonly title: string;
  readonly sectionPath: readonly string[];
  readonly text: string;
}

/** Inputs of `relevanceFeatures`: the whole question's two ranked lists and the passages returned. */
export interface RelevanceEvidence {
  readonly question: string;
  /** Cosine similarities of the whole question's vector list, best first. */
  readonly vectorScores: readonly number[];
  readonly vectorIds: readonly string[];
  /** Ids of the whole question's BM25 list, best first. */
  readonly lexicalIds: readonly string[];
  /** The passages returned, best first. */
  readonly passages: readonly RelevancePassage[];
  /**
   * Cosine similarity of each question word (first argument) to the nearest of the passages (second
   * argument); called only when a question word is missing from the first passages. Without it,
   * `uncoveredMatch` is not computed.
   */
  readonly wordSimilarity?: (
    questionWords: readonly string[],
    passages: readonly RelevancePassage[],
  ) => Promise<number[]>;
  /**
   * Cosine similarity of the whole question to each of `sentences` (texts embedded alone), in order.
   * Without it, `bestSentenceCosine` is not computed.
   */
  readonly sentenceSimilarity?: (sentences: readonly string[]) => Promise<number[]>;
}

/** Sentences whose similarity to the question is measured, at most (bounds the embeddings per query). */
export const MAX_RELEVANCE_SENTENCES = 24;

/**
 * The sentences of a passage's text: split after `.`, `;`, `:`, `!` or `?` followed by white space
 * (so "0.30 euros" and "9:30" stay whole), trimmed, empty ones left out.
 */
export function passageSentences(text: string): string[] {
  return text
    .split(/(?<=[.;:!?])\s+/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Passages whose words count for coverage. */
const COVERAGE_DEPTH = 3;

/** Computes the relevance features of one retrieval. */
export async function relevanceFeatures(evidence: RelevanceEvidence): Promise<RelevanceFeatures> {
  const best = evidence.vectorScores[0] ?? 0;
  const fifth = evidence.vectorScores[Math.min(4, evidence.vectorScores.length - 1)] ?? best;
  const questionWords = contentWords(evidence.question);
  const head = evidence.passages.slice(0, COVERAGE_DEPTH);
  const passageText = (p: RelevancePassage) => [p.title, ...p.sectionPath, p.text].join(' ');
  const firstStems = new Set(head.slice(0, 1).flatMap((p) => contentStems(passageText(p))));
  const headWords = contentWords(head.map(passageText).join(' '));
  const headStems = new Set(headWords.map((w) => stem(w)));
  const share = (stems: ReadonlySet<string>) =>
    questionWords.length === 0
      ? 0
      : questionWords.filter((w) => stems.has(stem(w))).length / questionWords.length;
  const nearest = evidence.vectorIds[0];
  return {
    bestCosine: best,
    cosineMargin: Math.max(0, best - fifth),
    coverage: share(firstStems),
    coverageTop3: share(headStems),
    ...(evidence.wordSimilarity
      ? {
          uncoveredMatch: await uncoveredMatch(
            questionWords.filter((w) => !headStems.has(stem(w))),
            head,
            evidence.wordSimilarity,
          ),
        }
      : {}),
    listsAgree: nearest !== undefined && evidence.lexicalIds.slice(0, 5).includes(nearest) ? 1 : 0,
    ...(evidence.sentenceSimilarity
      ? { bestSentenceCosine: await bestSentenceCosine(head, evidence.sentenceSimilarity) }
      : {}),
  };
}

/** See `RelevanceFeatures.uncoveredMatch`. */
async function uncoveredMatch(
  missing: readonly string[],
  head: readonly RelevancePassage[],
  wordSimilarity: NonNullable<RelevanceEvidence['wordSimilarity']>,
): Promise<number> {
  if (missing.length === 0) return 1;
  if (head.length === 0) return 0;
  // Compared with whole passages, not their words: one passage embedding each, instead of one per word.
  return Math.max(0, Math.min(...(await wordSimilarity(missing, head))));
}

/** See `RelevanceFeatures.bestSentenceCosine`. */
async function bestSentenceCosine(
  head: readonly RelevancePassage[],
  sentenceSimilarity: NonNullable<RelevanceEvidence['sentenceSimilarity']>,
): Promise<number> {
  const sentences = [...new Set(head.flatMap((p) => passageSentences(p.text)))].slice(
    0,
    MAX_RELEVANCE_SENTENCES,
  );
  if (sentences.length === 0) return 0;
  return Math.max(0, ...(await sentenceSimilarity(sentences)));
}
