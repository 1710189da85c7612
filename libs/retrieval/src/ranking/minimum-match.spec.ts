import type { ScoredChunk } from '../vector-store';
import { withMinimumMatch } from './minimum-match';

const chunk = (id: string, title: string, section: string, text: string): ScoredChunk => ({
  id,
  score: 1,
  payload: {
    tenant: 'acme',
    collection: 'wiki',
    aclGroups: [],
    documentId: id,
    version: 1,
    title,
    sourceUri: `kb://${id}`,
    sectionPath: [section],
    chunkIndex: 0,
    contentHash: id,
    text,
  },
});

describe('BM25 minimum should match', () => {
  // A paraphrase shares one incidental word ("building") with the parking passage and none with
  // the evacuation passage it asks about.
  const question = 'If the building has to be emptied, where do we meet outside?';
  const incidental = chunk('parking', 'Facilities', 'Parking', 'Bicycles are parked behind the building.');
  const partial = chunk(
    'evacuation',
    'Safety',
    'Fire evacuation',
    'When the alarm sounds, meet outside at the car park.',
  );

  it('drops a match that shares fewer than a third of the content words with the question', () => {
    expect(withMinimumMatch([incidental, partial], question, 1 / 3).map((c) => c.id)).toEqual(['evacuation']);
  });

  it('keeps every match with share 0, and counts inflections and title and headings as matches', () => {
    expect(withMinimumMatch([incidental, partial], question, 0)).toHaveLength(2);
    const policy = chunk('p', 'Travel policies', 'Approval', 'Managers approve trips.');
    expect(withMinimumMatch([policy], 'Who approves the travel policy?', 1)).toEqual([policy]);
  });

  it('judges a passage seen before by its text: the same answer again, a new text of the same id afresh', () => {
    for (let run = 0; run < 3; run++)
      expect(withMinimumMatch([incidental, partial], question, 1 / 3).map((c) => c.id)).toEqual([
        'evacuation',
      ]);
    const rewritten = chunk('parking', 'Facilities', 'Parking', 'If the building is emptied, meet outside.');
    expect(withMinimumMatch([rewritten, partial], question, 1 / 3).map((c) => c.id)).toEqual([
      'parking',
      'evacuation',
    ]);
  });

  it('keeps a match of an exact code however few other words it shares', () => {
    const codes = chunk('codes', 'Error codes', 'Checkout', 'E4711: the card was declined.');
    const asked = 'what does E4711 mean for a customer checkout at our shop';
    expect(withMinimumMatch([codes, incidental], asked, 1 / 2)).toEqual([codes]);
  });

  it('keeps a one-word question’s matches', () => {
    expect(withMinimumMatch([incidental], 'building', 1 / 3)).toEqual([incidental]);
  });
});
