import nlp from 'compromise';

/** compromise's compiled match rules: rules by the word, tag or switch a sentence must hold for them. */
interface MatchNet {
  readonly hooks: Readonly<Record<string, readonly unknown[]>>;
  readonly [field: string]: unknown;
}

/** The methods object compromise passes to bulkMatch (only what is read here is typed). */
interface SweepMethods {
  readonly one: { cacheDoc(docs: unknown): readonly ReadonlySet<string>[] };
}

type BulkMatch = (docs: unknown, net: MatchNet, methods: SweepMethods, options?: object) => unknown;

/** The rules' keys in `Object.keys` order, by key: computed once per net (compromise builds each net once). */
const keyOrders = new WeakMap<object, ReadonlyMap<string, number>>();

/**
 * compromise's `bulkMatch` (the post-tagger's sweep over its compiled rules) with the rules'
 * lookup narrowed to the keys the sentences hold. compromise 14.17 walks every key of the net's
 * hooks (730 words and tags) for each sentence and keeps the rules of the keys the
 * sentence holds; that walk was about 12 % of tagging a ticket line (`--cpu-prof`). Here the
 * original runs on a net holding only the keys some sentence of `docs` holds, in the original key
 * order: for each sentence it then keeps the same rules in the same order, so every tag, chunk
 * and person found is the same (`compromise-sweep.spec.ts` compares the whole tagged output).
 */
export function narrowedBulkMatch(original: BulkMatch): BulkMatch {
  return (docs, net, methods, options) => {
    const hooks = net.hooks;
    let order = keyOrders.get(hooks);
    if (order === undefined) {
      order = new Map(Object.keys(hooks).map((key, i) => [key, i]));
      keyOrders.set(hooks, order);
    }
    const keys: string[] = [];
    const seen = new Set<string>();
    const sentences = methods.one.cacheDoc(docs);
    for (const sentence of sentences) {
      for (const key of sentence) {
        if (seen.has(key)) continue;
        seen.add(key);
        if (order.has(key)) keys.push(key);
      }
    }
    const rank = order;
    keys.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
    const narrowed: Record<string, readonly unknown[]> = {};
    for (const key of keys) narrowed[key] = hooks[key];
    // The sentences' keys, computed once: the original asks cacheDoc for them again.
    const once = { ...methods, one: { ...methods.one, cacheDoc: () => sentences } };
    return original(docs, { ...net, hooks: narrowed }, once, options);
  };
}

interface CompromiseWorld {
  readonly methods: { readonly one: { bulkMatch: BulkMatch } };
}

/** compromise's world (its methods and models), shared by every `nlp()` call of the process. */
export function compromiseWorld(): CompromiseWorld {
  return nlp.world() as unknown as CompromiseWorld;
}

/**
 * The compromise version whose bulkMatch the wrapper was checked against (reads `net.hooks` and
 * `methods.one.cacheDoc` only): another version keeps its own until compromise-sweep.spec.ts has
 * been run against it and this constant moved.
 */
export const NARROWED_FOR_VERSION = '14.17.0';

const world = compromiseWorld();
/** compromise's own bulkMatch, kept for the differential test. */
export const ORIGINAL_BULK_MATCH: BulkMatch = world.methods.one.bulkMatch;
/** The narrowed bulkMatch installed in this process (see narrowedBulkMatch). */
export const NARROWED_BULK_MATCH: BulkMatch = narrowedBulkMatch(ORIGINAL_BULK_MATCH);
if (nlp.version === NARROWED_FOR_VERSION) world.methods.one.bulkMatch = NARROWED_BULK_MATCH;
