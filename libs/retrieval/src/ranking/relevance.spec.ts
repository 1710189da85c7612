import { DEFAULT_RELEVANCE_MODEL } from './relevance-model';
import {
  contentStems,
  MAX_RELEVANCE_SENTENCES,
  passageSentences,
  relevanceFeatures,
  relevanceProbability,
  type RelevanceEvidence,
  type RelevanceFeatures,
} from './relevance';

const passage = (title: string, section: string, text: string) => ({ title, sectionPath: [section], text });

const evidence = (over: Partial<RelevanceEvidence>): RelevanceEvidence => ({
  question: '',
  vectorScores: [0.6, 0.5, 0.45, 0.4, 0.35, 0.3],
  vectorIds: ['a', 'b', 'c', 'd', 'e', 'f'],
  lexicalIds: ['b', 'a'],
  passages: [],
  wordSimilarity: async (words) => words.map(() => 0),
  sentenceSimilarity: async (sentences) => sentences.map(() => 0.5),
  ...over,
});

describe('relevance features', () => {
  it('stems content words with Porter2 and leaves out the wording of questions', () => {
    expect(contentStems('How many policies do I need to approve?')).toEqual(['polici', 'approv']);
  });

  it('counts a question word found in the best passage under another inflection as covered', async () => {
    const f = await relevanceFeatures(
      evidence({
        question: 'Who approves travel bookings?',
        passages: [passage('Travel policy', 'Booking', 'A manager must approve every booking of travel.')],
      }),
    );
    expect(f.coverage).toBe(1);
    expect(f.coverageTop3).toBe(1);
    expect(f.uncoveredMatch).toBe(1);
  });

  it('asks for similarities only of the words no passage contains, against those passages', async () => {
    const asked: unknown[] = [];
    const f = await relevanceFeatures(
      evidence({
        question: 'Does the company pay for a gym membership?',
        passages: [passage('Benefits', 'Perks', 'The company pays for public transport tickets.')],
        wordSimilarity: async (words, passages) => {
          asked.push(
            [...words],
            passages.map((p) => p.title),
          );
          return words.map((w) => (w === 'gym' ? 0.2 : 0.3));
        },
      }),
    );
    expect(asked[0]).toEqual(['gym', 'membership']);
    expect(asked[1]).toEqual(['Benefits']);
    expect(f.coverage).toBeCloseTo(2 / 4);
    expect(f.uncoveredMatch).toBeCloseTo(0.2);
  });

  it('covers a two-part question over the first three passages together', async () => {
    const f = await relevanceFeatures(
      evidence({
        question: 'hotel cap and mileage rate',
        passages: [
          passage('Travel', 'Hotels', 'The hotel cap is 140 euros.'),
          passage('Expenses', 'Mileage', 'The mileage rate is 30 cents.'),
        ],
      }),
    );
    expect(f.coverage).toBeCloseTo(2 / 4);
    expect(f.coverageTop3).toBe(1);
  });

  it('measures the margin to the fifth vector match and whether the lists agree on the nearest', async () => {
    const f = await relevanceFeatures(evidence({ question: 'x', lexicalIds: ['z', 'y', 'x', 'w', 'a'] }));
    expect(f.bestCosine).toBe(0.6);
    expect(f.cosineMargin).toBeCloseTo(0.25);
    expect(f.listsAgree).toBe(1);
    const apart = await relevanceFeatures(
      evidence({ question: 'x', lexicalIds: ['z', 'y', 'x', 'w', 'v', 'a'] }),
    );
    expect(apart.listsAgree).toBe(0);
  });
});

describe('sentence-level similarity', () => {
  it('splits a passage into sentences after . ; : ! or ? followed by white space only', () => {
    expect(
      passageSentences(
        'Mileage is 0.30 euros per km. Reception opens at 9:30; visitors sign in: always!  Why? ',
      ),
    ).toEqual([
      'Mileage is 0.30 euros per km.',
      'Reception opens at 9:30;',
      'visitors sign in:',
      'always!',
      'Why?',
    ]);
  });

  it('takes the best similarity of the question to one sentence of the first three passages', async () => {
    const asked: string[][] = [];
    const f = await relevanceFeatures(
      evidence({
        question: 'When do I need a note from my GP?',
        passages: [
          passage('Sickness', 'Reporting', 'Call your manager. Record it in Workday.'),
          passage(
            'Sickness',
            'Certificates',
            "A doctor's certificate is required from day four. Call your manager.",
          ),
          passage('Sickness', 'Pay', 'Full pay for 20 days.'),
          passage('Leave', 'Carry over', 'Not in the first three.'),
        ],
        sentenceSimilarity: async (sentences) => {
          asked.push([...sentences]);
          return sentences.map((s) => (s.startsWith('A doctor') ? 0.71 : 0.2));
        },
      }),
    );
    // Each sentence once (a repeated sentence is not embedded twice), only from the first three passages.
    expect(asked).toEqual([
      [
        'Call your manager.',
        'Record it in Workday.',
        "A doctor's certificate is required from day four.",
        'Full pay for 20 days.',
      ],
    ]);
    expect(f.bestSentenceCosine).toBeCloseTo(0.71);
  });

  it('leaves out the features that cost embeddings when no similarity function is given', async () => {
    const f = await relevanceFeatures(
      evidence({
        question: 'Does the company pay for a gym membership?',
        passages: [passage('Benefits', 'Perks', 'The company pays for public transport tickets.')],
        wordSimilarity: undefined,
        sentenceSimilarity: undefined,
      }),
    );
    expect(f).not.toHaveProperty('uncoveredMatch');
    expect(f).not.toHaveProperty('bestSentenceCosine');
    expect(f.coverage).toBeCloseTo(2 / 4);
  });

  it('bounds the sentences measured per question, and is 0 without passages', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `Sentence number ${i}.`).join(' ');
    let count = 0;
    await relevanceFeatures(
      evidence({
        question: 'anything',
        passages: [passage('T', 'S', long)],
        sentenceSimilarity: async (sentences) => {
          count = sentences.length;
          return sentences.map(() => 0.3);
        },
      }),
    );
    expect(count).toBe(MAX_RELEVANCE_SENTENCES);
    const none = await relevanceFeatures(evidence({ question: 'anything', passages: [] }));
    expect(none.bestSentenceCosine).toBe(0);
  });
});

describe('the default relevance model', () => {
  const features = (over: Partial<RelevanceFeatures>): RelevanceFeatures => ({
    bestCosine: 0.5,
    cosineMargin: 0.1,
    coverage: 0.8,
    coverageTop3: 1,
    uncoveredMatch: 1,
    listsAgree: 1,
    bestSentenceCosine: 0.55,
    ...over,
  });

  it('rises with the best cosine similarity of the chunk and of one sentence', () => {
    const base = relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({}));
    expect(relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({ bestCosine: 0.7 }))).toBeGreaterThan(
      base,
    );
    expect(
      relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({ bestSentenceCosine: 0.75 })),
    ).toBeGreaterThan(base);
  });

  it('leaves out the features it does not name (the lexical ones)', () => {
    const base = relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({}));
    expect(
      relevanceProbability(
        DEFAULT_RELEVANCE_MODEL,
        features({ coverage: 0, coverageTop3: 0.2, uncoveredMatch: 0, listsAgree: 0 }),
      ),
    ).toBe(base);
  });

  it('counts a feature it uses but was not computed as its mean', () => {
    const mean = DEFAULT_RELEVANCE_MODEL.features.bestSentenceCosine!.mean;
    const { bestSentenceCosine: _left, ...without } = features({});
    expect(relevanceProbability(DEFAULT_RELEVANCE_MODEL, without)).toBeCloseTo(
      relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({ bestSentenceCosine: mean })),
    );
  });

  it('stays within 0 and 1', () => {
    for (const bestCosine of [-1, 0, 1]) {
      const p = relevanceProbability(DEFAULT_RELEVANCE_MODEL, features({ bestCosine }));
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
  });
});
