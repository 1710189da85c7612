import { toStorableText, truncateText, type ModelUsage, type Passage } from '@llmbus/contracts';
import { addUsage, Embedder, EmbeddingSpaceResolver } from './embedder';
import { RuleQueryDecomposer, type QueryDecomposer, type QueryPlan } from './query-decomposition';
import { withIdentifierParts } from './ranking/bm25';
import { withinTokenBudget } from './ranking/context-budget';
import { reciprocalRankFusion, weightedScoreFusion } from './ranking/fusion';
import { withMinimumMatch } from './ranking/minimum-match';
import { NEAR_DUPLICATE_SIMILARITY, withoutNearDuplicates } from './ranking/near-duplicates';
import {
  relevanceFeatures,
  relevanceProbability,
  type RelevanceFeatures,
  type RelevanceModel,
  type RelevancePassage,
} from './ranking/relevance';
import { DEFAULT_RELEVANCE_MODEL } from './ranking/relevance-model';
import { TextVectors } from './ranking/text-vectors';
import { supersessionOf, VERSION_LABELS, type Supersession } from './ranking/supersession';
import { embeddingInput } from './ingestor';
import type { Reranker } from './reranker';
import type { Scope, ScoredChunk, VectorStore } from './vector-store';

/** What to retrieve, for whom: RequestRouted's retrieval plan, the requester's groups and the tenant. */
export interface RetrievalRequest {
  readonly tenant: string;
  readonly collections: readonly string[];
  readonly topK: number;
  readonly query: string;
  readonly groups: readonly string[];
  /** Source priorities: a collection's fused scores are multiplied by its weight; unlisted collections weigh 1. */
  readonly collectionWeights?: Readonly<Record<string, number>>;
}

export interface RetrievalResult {
  /** Most relevant first; only passages the requester may read. */
  readonly passages: Passage[];
  /** Of the topK most relevant passages in the tenant's collections, how many the requester may not read. */
  readonly withheldCount: number;
  /** Embedding usage of the queries (and of reranking, when it used the same model); absent when nothing was embedded. */
  readonly usage?: ModelUsage;
  /** How the question was searched; absent when nothing was searched. */
  readonly plan?: QueryPlan;
  /**
   * How likely the readable passages answer the question, 0 to 1: the relevance model (a logistic
   * regression over `relevanceFeatures`, fitted on the eval's tuning questions by
   * `eval/retrieval/calibrate.mjs`). 0 when nothing was searched or nothing readable is near.
   */
  readonly relevance: number;
  /** `relevance` ≥ `answerableRelevance`: false tells the caller to abstain ("not found") rather than answer from the passages. */
  readonly answerable: boolean;
  /** What `relevance` was computed from; absent when nothing was searched or found. */
  readonly relevanceFeatures?: RelevanceFeatures;
}

export interface RetrieverOptions {
  /**
   * Cosine similarity to the question (or to the part of it searched, when decomposed) below which a
   * chunk is not relevant: neither returned, whichever list found it (a BM25 match below it is left
   * out too), nor counted as withheld. Default 0.2.
   */
  readonly minScore?: number;
  /** Fuse BM25 matches with vector matches. Default true. */
  readonly lexical?: boolean;
  /** Candidates per ranked list (per query, per method): at least this, and at least 3 × topK. Default 30. */
  readonly candidates?: number;
  /** Splits multi-part questions. Default: the rules (`RuleQueryDecomposer`). */
  readonly decomposer?: QueryDecomposer;
  /** Re-scores the best fused candidates; none by default. */
  readonly reranker?: Reranker;
  /** Candidates the reranker sees. Default 20. */
  readonly rerankDepth?: number;
  /** Token budget of all returned passages together (characters / 4). Default 3 000. */
  readonly maxContextTokens?: number;
  /** Weight of a sub-query's lists against the whole question's (1). Default 0.5: a part out of context ("what is the usual cause") is vaguer than the question. */
  readonly subQueryWeight?: number;
  /** Word-trigram cosine from which two passages are duplicates. Default 0.9. */
  readonly nearDuplicateSimilarity?: number;
  /** Passages of one document among the first topK, when other documents have relevant passages too. Default 3; 0 = no cap. */
  readonly maxPassagesPerDocument?: number;
  /** Relevance from which the passages count as answering the question. Default `DEFAULT_ANSWERABLE_RELEVANCE` (0.25). */
  readonly answerableRelevance?: number;
  /** The model that turns relevance features into a probability. Default `DEFAULT_RELEVANCE_MODEL`. */
  readonly relevanceModel?: RelevanceModel;
  /**
   * Which of the features that cost embeddings (`uncoveredMatch`, `bestSentenceCosine`) are
   * computed: `model` (default) only those the relevance model uses; `all` every one, for fitting a
   * model (`npm run eval:calibrate`). The others cost no model call and are always computed.
   */
  readonly relevanceFeatures?: 'model' | 'all';
  /**
   * How the vector and BM25 lists are combined. `scores` (default): each list's scores are
   * normalised by their distribution (DBSF) and added with `lexicalWeight`; `rrf`: reciprocal rank
   * fusion (k = 60), which lets any chunk found by both lists outrank every chunk found by one.
   */
  readonly fusion?: 'scores' | 'rrf';
  /** Share of the BM25 list in score fusion (the vector list gets the rest). Default `DEFAULT_LEXICAL_WEIGHT`. */
  readonly lexicalWeight?: number;
  /**
   * Minimum should match of the BM25 list: a chunk stays in it only when its title, headings and
   * text contain at least this share of the query's content words (at least one), so a chunk that
   * shares one incidental word with a paraphrased question does not enter the fusion. Default
   * `DEFAULT_LEXICAL_MINIMUM_SHARE`; 0 keeps every BM25 match.
   */
  readonly lexicalMinimumShare?: number;
  /** Today, for deciding which superseding documents are in effect. Default: the system clock. */
  readonly now?: () => Date;
}

export const DEFAULT_MIN_SCORE = 0.2;
export const DEFAULT_MAX_CONTEXT_TOKENS = 3_000;
/**
 * Relevance from which retrieval reports `answerable`. The model weighs both classes equally, so 0.5
 * would abstain on 8 of the tuning set's 93 answerable questions (paraphrases mostly); at 0.25 it
 * abstains on 5 and catches 12 of 15 unanswerable ones: the highest tuning accuracy (0.926, shared
 * by 0.1 to 0.25; ties go to the threshold nearer 0.5) of the thresholds tried (0.05 to 0.5), chosen
 * on the tuning questions only by `npm run eval:calibrate`.
 */
export const DEFAULT_ANSWERABLE_RELEVANCE = 0.25;
export const DEFAULT_MAX_PASSAGES_PER_DOCUMENT = 3;
/**
 * Middle of the plateau (0.1 to 0.4) where recall@5 is flat on the eval's tuning questions
 * (`npm run eval:retrieval`, README "Retrieval evaluation"); checked on its held-out questions.
 */
export const DEFAULT_LEXICAL_WEIGHT = 0.3;

/**
 * See `RetrieverOptions.lexicalMinimumShare`. Chosen on the eval's tuning questions (recall@5 0.973
 * → 0.978, MRR@10 0.894 → 0.909; 1/2 found as many but ranked lower); paraphrase recall@5 went to 1
 * on the held-out and fresh questions too (`npm run eval:retrieval`, README "Retrieval").
 */
export const DEFAULT_LEXICAL_MINIMUM_SHARE = 1 / 3;

/** Searches each query as given: no decomposition. */
export const NO_DECOMPOSITION: QueryDecomposer = {
  decompose: async (question) => ({ queries: [question], decomposedBy: 'none' }),
};

/** Passage.text limit of the ContextRetrieved contract. */
const PASSAGE_TEXT_LIMIT = 20_000;

/**
 * Hybrid retrieval. Each query of the plan (the question, and its parts when it has several) is
 * searched by vector and by BM25; the lists are fused by their normalised scores (or by reciprocal
 * rank) with collection weights,
 * older versions and near duplicates are dropped, a reranker may reorder the head, and passages are
 * kept best first within topK and the token budget. Tenant and permission filters are applied by
 * the store inside every query, never to results here.
 */
export class Retriever {
  private readonly space: EmbeddingSpaceResolver;
  private readonly minScore: number;
  private readonly decomposer: QueryDecomposer;
  private readonly vectors: TextVectors;
  private readonly lexicalMinimumShare: number;

  constructor(
    private readonly embedder: Embedder,
    private readonly store: VectorStore,
    private readonly options: RetrieverOptions = {},
  ) {
    this.space = new EmbeddingSpaceResolver(embedder);
    this.minScore = options.minScore ?? DEFAULT_MIN_SCORE;
    this.decomposer = options.decomposer ?? new RuleQueryDecomposer();
    this.vectors = new TextVectors(embedder);
    this.lexicalMinimumShare = options.lexicalMinimumShare ?? DEFAULT_LEXICAL_MINIMUM_SHARE;
  }

  /** True when the plan asks for nothing, so neither the embedder nor the store is called. */
  static isEmpty(request: Pick<RetrievalRequest, 'collections' | 'topK' | 'query'>): boolean {
    return request.topK < 1 || request.collections.length === 0 || request.query.trim() === '';
  }

  /** Returns the most relevant readable passages for the request, with a count of what was withheld. */
  async retrieve(request: RetrievalRequest): Promise<RetrievalResult> {
    if (Retriever.isEmpty(request))
      return { passages: [], withheldCount: 0, relevance: 0, answerable: false };
    const plan = await this.decomposer.decompose(request.query);
    const queries = [...plan.queries];
    const embedding = await this.embedder.embed(queries);
    const { collectionName: name, dimension } = this.space.observe(queries, embedding);
    await this.store.ensureCollection(name, dimension);
    const scope: Scope = {
      tenant: request.tenant,
      collections: [...new Set(request.collections)],
      limit: request.topK,
      minScore: this.minScore,
    };
    const candidates = {
      ...scope,
      groups: request.groups,
      limit: Math.max(request.topK * 3, this.options.candidates ?? 30),
    };
    const asOf = (this.options.now?.() ?? new Date()).toISOString().slice(0, 10);
    // Hybrid: the whole question's search also counts what was withheld (one read of the scope
    // where the store allows); vector only: a ranking and a count of their own.
    const hybrid = this.options.lexical !== false;
    const searched = Promise.all(
      queries.map(async (text, i): Promise<{ lists: ScoredChunk[][]; withheld?: number }> => {
        if (!hybrid) return { lists: [await this.store.search(name, embedding.vectors[i], candidates)] };
        const both = await this.store.hybridSearch(name, embedding.vectors[i], {
          ...candidates,
          text: withIdentifierParts(text),
          ...(i === 0 ? { withheld: { limit: scope.limit, minScore: scope.minScore } } : {}),
        });
        return {
          lists: [both.vector, withMinimumMatch(both.lexical, text, this.lexicalMinimumShare)],
          withheld: both.withheld,
        };
      }),
    );
    const [vectorOnlyWithheld, links, searches] = await Promise.all([
      hybrid ? undefined : this.withheld(name, embedding.vectors[0], scope, request.groups),
      this.store.supersessions(name, {
        tenant: scope.tenant,
        collections: scope.collections,
        groups: request.groups,
      }),
      searched,
    ]);
    const withheldCount =
      vectorOnlyWithheld ??
      searches[0]?.withheld ??
      (await this.withheld(name, embedding.vectors[0], scope, request.groups));
    const perQueryLists = searches.map((q) => q.lists);
    // Per query: the vector list, then (hybrid) the BM25 list.
    const lists = perQueryLists.flat();

    const weights = request.collectionWeights ?? {};
    const perQuery = this.options.lexical === false ? 1 : 2;
    const subQueryWeight = this.options.subQueryWeight ?? 0.5;
    const itemWeight = (c: ScoredChunk) => weights[c.payload.collection] ?? 1;
    const queryWeight = (i: number) => (i < perQuery ? 1 : subQueryWeight);
    const lexicalWeight = perQuery === 1 ? 0 : (this.options.lexicalWeight ?? DEFAULT_LEXICAL_WEIGHT);
    const fused = (
      this.options.fusion === 'rrf'
        ? reciprocalRankFusion(
            lists.map((items, i) => ({ items, weight: queryWeight(i) })),
            (c) => c.id,
            { itemWeight },
          )
        : weightedScoreFusion(
            lists.map((items, i) => ({
              items,
              // Lists alternate per query: vector, then BM25 (when hybrid).
              weight: queryWeight(i) * (i % perQuery === 1 ? lexicalWeight : 1 - lexicalWeight),
              score: (c: ScoredChunk) => c.score,
              normalisation: 'dbsf' as const,
            })),
            (c) => c.id,
            { itemWeight },
          )
    ).map(({ item, score }) => ({ ...item, score }));
    // A replaced document is retired: only what its replacement (readable, in effect) says is returned.
    const supersession = supersessionOf(links, asOf);
    const current = afterWhatTheyReplace(
      newestVersions(fused)
        .filter((c) => !supersession.retired.has(c.payload.documentId))
        .sort(byScoreThenNewest(asOf)),
      asOf,
      supersession,
    );
    const distinct = withoutNearDuplicates(
      current,
      (c) => c.payload.text,
      this.options.nearDuplicateSimilarity ?? NEAR_DUPLICATE_SIMILARITY,
    );
    let usage: ModelUsage = embedding.usage;
    let ranked = distinct;
    if (this.options.reranker && distinct.length > 1) {
      const reranked = await this.rerank(this.options.reranker, request.query, distinct);
      // The reranker scores text only: a replacement not yet in effect goes back after what it replaces.
      ranked = afterWhatTheyReplace(reranked.chunks, asOf, supersession);
      if (reranked.usage && reranked.usage.modelId === usage.modelId) usage = addUsage(usage, reranked.usage);
    }
    const cap = this.options.maxPassagesPerDocument ?? DEFAULT_MAX_PASSAGES_PER_DOCUMENT;
    if (cap > 0) ranked = diversified(ranked, cap, request.topK);
    const selected = withinTokenBudget(ranked, (c) => truncateText(c.payload.text, PASSAGE_TEXT_LIMIT), {
      maxTokens: this.options.maxContextTokens ?? DEFAULT_MAX_CONTEXT_TOKENS,
      limit: request.topK,
    });
    // The whole question's lists come first: its vector list, then (hybrid) its BM25 list.
    const vectorList = lists[0] ?? [];
    if (vectorList.length === 0 || selected.length === 0)
      return {
        passages: selected.map(toPassage),
        withheldCount,
        usage,
        plan,
        relevance: 0,
        answerable: false,
      };
    const relevanceModel = this.options.relevanceModel ?? DEFAULT_RELEVANCE_MODEL;
    const computes = (name: keyof RelevanceFeatures) =>
      this.options.relevanceFeatures === 'all' || relevanceModel.features[name] !== undefined;
    // An embedding call made for a feature counts in the retrieval's usage (same model only).
    const counted = (matched: { similarities: number[]; usage?: ModelUsage }): number[] => {
      if (matched.usage && matched.usage.modelId === usage.modelId) usage = addUsage(usage, matched.usage);
      return matched.similarities;
    };
    const features = await relevanceFeatures({
      question: request.query,
      vectorScores: vectorList.map((c) => c.score),
      vectorIds: vectorList.map((c) => c.id),
      lexicalIds: perQuery === 2 ? (lists[1] ?? []).map((c) => c.id) : [],
      passages: selected.map((c) => c.payload),
      // Passages are embedded as at ingestion (under title and headings), like their stored vectors.
      ...(computes('uncoveredMatch')
        ? {
            wordSimilarity: async (
              questionWords: readonly string[],
              passages: readonly RelevancePassage[],
            ) => {
              const texts = passages.map((p) => embeddingInput(p.title, p));
              return counted(await this.vectors.bestMatches(questionWords, texts));
            },
          }
        : {}),
      // The question's vector is the one searched with: only sentences not seen lately are embedded.
      ...(computes('bestSentenceCosine')
        ? {
            sentenceSimilarity: async (sentences: readonly string[]) =>
              counted(await this.vectors.similaritiesTo(embedding.vectors[0] ?? [], sentences)),
          }
        : {}),
    });
    const relevance = relevanceProbability(relevanceModel, features);
    return {
      passages: selected.map(toPassage),
      withheldCount,
      usage,
      plan,
      relevance,
      answerable: relevance >= (this.options.answerableRelevance ?? DEFAULT_ANSWERABLE_RELEVANCE),
      relevanceFeatures: features,
    };
  }

  /** Of the scope's most relevant points ignoring ACLs, how many the groups may not read (decided by the store). */
  private async withheld(
    name: string,
    vector: readonly number[],
    scope: Scope,
    groups: readonly string[],
  ): Promise<number> {
    const ranked = await this.store.rankIds(name, vector, scope);
    if (ranked.length === 0) return 0;
    const readable = await this.store.count(name, {
      tenant: scope.tenant,
      ids: ranked.map((r) => r.id),
      groups,
    });
    return ranked.length - readable;
  }

  /**
   * Reorders the head by fusing the reranker's order with the first-stage one (either alone misjudges
   * some passages); the reranker's list comes first, so it wins ties.
   */
  private async rerank(reranker: Reranker, query: string, chunks: readonly ScoredChunk[]) {
    const depth = this.options.rerankDepth ?? 20;
    const head = chunks.slice(0, depth);
    const { scores, usage } = await reranker.rerank(
      query,
      head.map((c) => ({
        id: c.id,
        title: c.payload.title,
        sectionPath: c.payload.sectionPath,
        text: c.payload.text,
      })),
    );
    const byReranker = head
      .map((c, i) => ({ c, s: scores[i] ?? 0 }))
      .sort((a, b) => b.s - a.s)
      .map((x) => x.c);
    const fused = reciprocalRankFusion([{ items: byReranker }, { items: head }], (c) => c.id).map(
      ({ item, score }) => ({ ...item, score }),
    );
    return { chunks: [...fused, ...chunks.slice(depth)], usage };
  }
}

/**
 * Best score first; on a tie the later effective date in effect on `asOf` (a date still to come
 * counts as none: that version does not apply yet), then the higher version label ("FY2025" over
 * "FY2024", "2023.10" over "2023.9"), wins; otherwise fused order. Sort is stable, so ties stay deterministic.
 */
function byScoreThenNewest(asOf: string): (a: ScoredChunk, b: ScoredChunk) => number {
  const inEffect = (c: ScoredChunk) => {
    const date = c.payload.effectiveDate ?? '';
    return date <= asOf ? date : '';
  };
  return (a, b) =>
    b.score - a.score ||
    inEffect(b).localeCompare(inEffect(a)) ||
    VERSION_LABELS.compare(b.payload.versionLabel ?? '', a.payload.versionLabel ?? '');
}

/**
 * Moves each passage of a replacement not yet in effect on `asOf` (an `effectiveDate` still to
 * come and a `supersedes` list) to just after the last passage of the documents it will replace
 * (directly or through other links, withdrawn documents' included), when they are among `chunks`: until its date the replaced version is what applies, so the
 * announced one may follow it but never outrank it (a chain of pending replacements keeps its
 * order), its score lowered to the score of the passage it follows when higher. Everything else
 * keeps its order. `chunks` is ranked best first; returns a new array.
 */
function afterWhatTheyReplace(
  chunks: readonly ScoredChunk[],
  asOf: string,
  supersession: Supersession,
): ScoredChunk[] {
  const pending = (c: ScoredChunk) =>
    (c.payload.supersedes?.length ?? 0) > 0 && (c.payload.effectiveDate ?? '') > asOf;
  if (!chunks.some(pending)) return [...chunks];
  const ranked = [...chunks];
  // A pass without a move ends it; at most one pass per passage, so pending documents that name
  // each other (a cycle stored before ingestion refused them) cannot loop.
  for (let pass = 0; pass < ranked.length; pass++) {
    let moved = false;
    for (let i = 0; i < ranked.length; i++) {
      const c = ranked[i];
      if (!pending(c)) continue;
      // Through every link: with 2024 withdrawn, a pending 2027 replacing it still follows 2023.
      const replaced = new Set([
        ...(c.payload.supersedes ?? []),
        ...supersession.replacedBy(c.payload.documentId),
      ]);
      let last = -1;
      ranked.forEach((other, j) => {
        if (replaced.has(other.payload.documentId)) last = j;
      });
      if (last > i) {
        ranked.splice(i, 1);
        // Scored no higher than what it now follows: whoever orders passages by score (the prompt
        // renderer) keeps it after the version in effect.
        ranked.splice(last, 0, { ...c, score: Math.min(c.score, ranked[last - 1]?.score ?? c.score) });
        // The passage now at i is looked at in the next pass: a pass moves each passage once at most.
        moved = true;
      }
    }
    if (!moved) break;
  }
  return ranked;
}

/**
 * Moves a document's passages past its `cap`-th beyond the first `topK` places, so one long document
 * cannot fill the context when other documents match too; order is otherwise kept.
 */
function diversified(chunks: readonly ScoredChunk[], cap: number, topK: number): ScoredChunk[] {
  const head: ScoredChunk[] = [];
  const overflow: ScoredChunk[] = [];
  const taken = new Map<string, number>();
  for (const c of chunks) {
    const key = `${c.payload.collection}\u0000${c.payload.documentId}`;
    const n = taken.get(key) ?? 0;
    if (head.length < topK && n >= cap) overflow.push(c);
    else {
      head.push(c);
      taken.set(key, n + 1);
    }
  }
  return [...head, ...overflow];
}

/** While a new version replaces an old one both are stored for a moment; keep only the newest per document. */
function newestVersions(chunks: readonly ScoredChunk[]): ScoredChunk[] {
  const newest = new Map<string, number>();
  for (const c of chunks) {
    const key = `${c.payload.collection}\u0000${c.payload.documentId}`;
    newest.set(key, Math.max(newest.get(key) ?? 0, c.payload.version));
  }
  return chunks.filter(
    (c) => newest.get(`${c.payload.collection}\u0000${c.payload.documentId}`) === c.payload.version,
  );
}

function toPassage(chunk: ScoredChunk): Passage {
  return {
    id: chunk.id,
    documentId: chunk.payload.documentId,
    collection: chunk.payload.collection,
    // A store may hold text written by other tools: what is published must be storable downstream.
    title: toStorableText(chunk.payload.title),
    sourceUri: toStorableText(chunk.payload.sourceUri),
    chunkIndex: chunk.payload.chunkIndex,
    text: toStorableText(truncateText(chunk.payload.text, PASSAGE_TEXT_LIMIT)),
    score: chunk.score,
    ...(chunk.payload.sectionPath.length > 0
      ? { sectionPath: toStorableText(truncateText(chunk.payload.sectionPath.join(' > '), 1000)) }
      : {}),
    ...(chunk.payload.effectiveDate ? { effectiveDate: chunk.payload.effectiveDate } : {}),
    ...(chunk.payload.versionLabel ? { versionLabel: toStorableText(chunk.payload.versionLabel) } : {}),
  };
}
