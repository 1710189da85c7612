import type { ModelEntry, TokenizerEncoding } from '../registry/model-registry';
import type { ModelTokenCounter } from '../model-provider';

type OpenAIEncoding = TokenizerEncoding;
type CountTokens = (text: string) => number;

/**
 * Each encoding's rank table is loaded on its first count, not at import: loading both cost about
 * a fifth of a stage's start-up CPU in the bench profile, and a restarted stage takes its
 * partitions back only once started. A process counts with one encoding, if any.
 */
const LOADERS: Readonly<Record<OpenAIEncoding, () => CountTokens>> = {
  /* eslint-disable @typescript-eslint/no-require-imports -- synchronous lazy load; counting is synchronous */
  o200k_base: () =>
    (require('gpt-tokenizer/encoding/o200k_base') as typeof import('gpt-tokenizer/encoding/o200k_base'))
      .countTokens,
  cl100k_base: () =>
    (require('gpt-tokenizer/encoding/cl100k_base') as typeof import('gpt-tokenizer/encoding/cl100k_base'))
      .countTokens,
  /* eslint-enable @typescript-eslint/no-require-imports */
};

function lazyCounter(encoding: OpenAIEncoding): ModelTokenCounter {
  let count: CountTokens | undefined;
  return { count: (text) => (count ??= LOADERS[encoding]())(text) };
}

const COUNTERS: Readonly<Record<OpenAIEncoding, ModelTokenCounter>> = {
  o200k_base: lazyCounter('o200k_base'),
  cl100k_base: lazyCounter('cl100k_base'),
};

// OpenAI's model families and their encodings (tiktoken's model map): GPT-4o, 4.1, 4.5, 5 and the
// o-series use o200k_base; GPT-4, GPT-3.5 and the v3 embeddings cl100k_base.
const BY_MODEL_NAME: readonly (readonly [RegExp, OpenAIEncoding])[] = [
  [/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o)/, 'o200k_base'],
  [/^(gpt-4|gpt-3\.5|text-embedding-3|text-embedding-ada-002)/, 'cl100k_base'],
];

/** The encoding of an OpenAI model: the registry's `tokenizer`, else inferred from its model name. */
export function openAIEncodingOf(entry: ModelEntry): OpenAIEncoding | undefined {
  if (entry.tokenizer !== undefined) return entry.tokenizer;
  const name = entry.model.toLowerCase().replace(/^openai\//, '');
  return BY_MODEL_NAME.find(([pattern]) => pattern.test(name))?.[1];
}

/**
 * An exact counter for an OpenAI model (gpt-tokenizer, pure JS, synchronous), or undefined when the
 * endpoint serves a model whose tokenizer we do not know (vLLM, Ollama: set `tokenizer` in the
 * registry, or the caller falls back to `conservativeTokenCounter`).
 */
export function openAITokenCounter(entry: ModelEntry): ModelTokenCounter | undefined {
  const encoding = openAIEncodingOf(entry);
  return encoding === undefined ? undefined : COUNTERS[encoding];
}
