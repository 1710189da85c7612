import nlp from 'compromise';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompromisePersonDetector } from './compromise-person-detector';
import {
  compromiseWorld,
  NARROWED_BULK_MATCH,
  narrowedBulkMatch,
  NARROWED_FOR_VERSION,
  ORIGINAL_BULK_MATCH,
} from './compromise-sweep';

const EVAL_DIR = join(__dirname, '..', '..', '..', 'eval', 'pii');

/** Every text of the PII eval corpus, and each of its lines on its own (the detector tags lines). */
function corpusTexts(): string[] {
  const texts: string[] = [];
  for (const file of readdirSync(EVAL_DIR).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(EVAL_DIR, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const { text } = JSON.parse(line) as { text: string };
      texts.push(text, ...text.split('\n').filter((l) => l.trim() !== ''));
    }
  }
  return texts;
}

/** Texts made of corpus words, honorifics, names, digits and punctuation in a seeded random order. */
function randomTexts(count: number, words: readonly string[]): string[] {
  let seed = 20261201;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const extra = [
    'Dr.',
    'Mr',
    'Mrs.',
    'Ms',
    'von',
    'de',
    'O’Brien',
    'Jean-Luc',
    'Smith,',
    'May',
    'Will',
    'Grant',
  ];
  const pool = [...words, ...extra, '42', '2024-03-01', '-', '(', ')', '"', 'e.g.', 'ACME', 'LLC'];
  const marks = ['', '', '', ',', '.', '?', '!', ';', ':'];
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = 3 + Math.floor(next() * 30);
    const parts: string[] = [];
    for (let j = 0; j < length; j++) {
      parts.push(pool[Math.floor(next() * pool.length)] + marks[Math.floor(next() * marks.length)]);
    }
    texts.push(parts.join(' '));
  }
  return texts;
}

/** All compromise says of a text: every term's text, spacing, normal form, tags and chunk, with offsets. */
function tagged(text: string): string {
  const sentences = nlp(text).json({ offset: true }) as { terms: Record<string, unknown>[] }[];
  return JSON.stringify(
    sentences.map((s) =>
      s.terms.map((t) => [t['text'], t['pre'], t['post'], t['normal'], t['tags'], t['chunk'], t['offset']]),
    ),
  );
}

function withBulkMatch<T>(bulkMatch: typeof ORIGINAL_BULK_MATCH, work: () => T): T {
  const world = compromiseWorld();
  world.methods.one.bulkMatch = bulkMatch;
  try {
    return work();
  } finally {
    world.methods.one.bulkMatch = NARROWED_BULK_MATCH;
  }
}

describe('compromise with the narrowed rule lookup', () => {
  it('is what every nlp() call of the process uses once the person detector is loaded', () => {
    expect(CompromisePersonDetector.processWide()).toBeDefined();
    // An upgrade of compromise fails here first: run this file against it, then move the constant.
    expect(nlp.version).toBe(NARROWED_FOR_VERSION);
    expect(compromiseWorld().methods.one.bulkMatch).toBe(NARROWED_BULK_MATCH);
  });

  it('hands compromise only the rule keys the sentences hold, in the original order', () => {
    const calls: { original: string[]; narrowed: string[] }[] = [];
    let original: string[] = [];
    const narrowed = narrowedBulkMatch((docs, net, methods, options) => {
      calls.push({ original, narrowed: Object.keys(net.hooks) });
      return ORIGINAL_BULK_MATCH(docs, net, methods, options);
    });
    withBulkMatch(
      (docs, net, methods, options) => {
        original = Object.keys(net.hooks);
        return narrowed(docs, net, methods, options);
      },
      () => nlp('Hello, this is Maria Schneider from Berlin.'),
    );
    // The post-tagger's net (730 keys in compromise 14.17) shrinks to the few this sentence holds.
    expect(calls.some((c) => c.original.length > 500 && c.narrowed.length < c.original.length / 10)).toBe(
      true,
    );
    for (const call of calls) {
      // The same keys, in the same order, as walking the whole net and keeping those the text holds.
      const kept = new Set(call.narrowed);
      expect(call.narrowed).toEqual(call.original.filter((key) => kept.has(key)));
    }
  });

  it('tags every text of the PII eval corpus and 2,000 random texts exactly as compromise alone does', () => {
    const corpus = corpusTexts();
    const words = [...new Set(corpus.join(' ').split(/\s+/))].filter(Boolean);
    const texts = [...corpus, ...randomTexts(2000, words)];
    const differing = texts.filter(
      (text) => withBulkMatch(ORIGINAL_BULK_MATCH, () => tagged(text)) !== tagged(text),
    );
    expect(differing).toEqual([]);
    expect(texts.length).toBeGreaterThan(2200);
  });

  it('finds the same people (the spans the detector reports) as compromise alone', () => {
    // Term ids are random per call; the rest of each person (text, offsets, name parts) is compared.
    const people = (text: string) =>
      JSON.stringify(
        (nlp(text).people().json({ offset: true }) as Record<string, unknown>[]).map((p) => [
          p['text'],
          p['offset'],
          p['person'],
        ]),
      );
    for (const text of corpusTexts()) {
      expect(people(text)).toBe(withBulkMatch(ORIGINAL_BULK_MATCH, () => people(text)));
    }
  });
});
