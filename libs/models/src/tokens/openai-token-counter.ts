import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base';
import type { ModelEntry, TokenizerEncoding } from '../registry/model-registry';
import type { ModelTokenCounter } from '../model-provider';

type OpenAIEncoding = TokenizerEncoding;

const COUNTERS: Readonly<Record<OpenAIEncoding, ModelTokenCounter>> = {
  o200k_base: { count: (text) => countO200k(text) },
  cl100k_base: { count: (text) => countCl100k(text) },
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
