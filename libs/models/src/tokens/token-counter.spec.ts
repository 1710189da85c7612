import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import type { ModelEntry } from '../registry/model-registry';
import { openAIEncodingOf, openAITokenCounter } from './openai-token-counter';
import { conservativeTokenCounter } from './token-counter';

const samples: Record<string, string> = {
  english:
    'The quick brown fox jumps over the lazy dog. My invoice was charged twice, please refund it. '.repeat(
      20,
    ),
  digits: '31415926535897932384626433832795028841971693993751'.repeat(20),
  chinese: '我的应用程序在启动时崩溃了，请帮我解决这个问题。账单金额不正确。'.repeat(20),
  japanese: 'アプリが起動時にクラッシュします。請求金額が正しくありません。'.repeat(20),
  russian: 'Приложение падает при запуске, пожалуйста помогите. '.repeat(20),
  json: JSON.stringify({ a: [1, 2, 3], b: 'x-y_z', c: { d: '2024-01-01T00:00:00Z' } }).repeat(20),
  emoji: '🙂🚀✅ ok '.repeat(40),
};

function entry(model: string, tokenizer?: ModelEntry['tokenizer']): ModelEntry {
  return {
    id: `openai/${model}`,
    provider: 'openai',
    model,
    contextWindow: 8192,
    pricePer1MInputUsd: 0,
    pricePer1MOutputUsd: 0,
    capabilities: ['chat'],
    tier: 'small',
    tokenizer,
  };
}

describe('token counters', () => {
  it.each(Object.entries(samples))(
    'the conservative fallback never counts fewer tokens than o200k_base or cl100k_base (%s)',
    (_, text) => {
      const bound = conservativeTokenCounter.count(text);
      expect(bound).toBeGreaterThanOrEqual(o200k(text));
      expect(bound).toBeGreaterThanOrEqual(cl100k(text));
    },
  );

  it('counts digits and CJK far above characters / 4, where that estimate undercounted', () => {
    expect(conservativeTokenCounter.count('1234567890'.repeat(10))).toBe(100);
    expect(conservativeTokenCounter.count('启动时崩溃')).toBe(8);
  });

  it("picks an OpenAI model's encoding from the registry, else from its name, else none", () => {
    expect(openAIEncodingOf(entry('gpt-4o-mini'))).toBe('o200k_base');
    expect(openAIEncodingOf(entry('gpt-5'))).toBe('o200k_base');
    expect(openAIEncodingOf(entry('gpt-4-turbo'))).toBe('cl100k_base');
    expect(openAIEncodingOf(entry('meta-llama/Llama-3.1-8B-Instruct'))).toBeUndefined();
    expect(openAIEncodingOf(entry('my-vllm-model', 'cl100k_base'))).toBe('cl100k_base');
    expect(openAITokenCounter(entry('gpt-4o'))!.count(samples.digits)).toBe(o200k(samples.digits));
    expect(openAITokenCounter(entry('qwen2.5'))).toBeUndefined();
  });
});

describe('conservativeTokenCounter by code unit', () => {
  /** The counter as it was written first, code point by code point with regular expressions. */
  function byCodePoint(text: string): number {
    let letters = 0;
    let other = 0;
    for (const char of text) {
      if (/[A-Za-z ]/.test(char)) letters += 1;
      else if (/[0-9]/.test(char)) other += 1;
      else if (char.charCodeAt(0) < 0x80) other += 1;
      else other += char.length > 1 ? 3 : 1.5;
    }
    return Math.ceil(letters / 3 + other);
  }

  it('counts what the code-point counter counted, lone surrogates and pairs included', () => {
    const alphabet = [
      'a',
      'Z',
      ' ',
      '7',
      '\n',
      '{',
      '~',
      'é',
      '我',
      '🙂',
      '\uD83D',
      '\uDE42',
      '\u007F',
      '\u0080',
    ];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    const texts = [...Object.values(samples), '', '\uD83D', '\uDE42\uD83D', 'a\uD83Db'];
    for (let n = 0; n < 500; n++) {
      const length = next() % 40;
      texts.push(Array.from({ length }, () => alphabet[next() % alphabet.length]).join(''));
    }
    for (const text of texts) expect(conservativeTokenCounter.count(text)).toBe(byCodePoint(text));
  });
});
