import {
  MAX_SUB_QUERIES,
  ModelQueryDecomposer,
  RuleQueryDecomposer,
  splitQuestion,
  SUB_QUERY_SCHEMA,
  type StructuredChatModel,
} from './query-decomposition';

const usage = {
  modelId: 'chat-test',
  provider: 'scripted',
  promptTokens: 10,
  completionTokens: 5,
  costUsd: 0,
  latencyMs: 1,
};

function chatReturning(
  reply: () => Promise<unknown>,
): StructuredChatModel & { requests: Parameters<StructuredChatModel['chat']>[0][] } {
  const requests: Parameters<StructuredChatModel['chat']>[0][] = [];
  return {
    requests,
    chat: async (request) => {
      requests.push(request);
      return { json: await reply(), usage };
    },
  };
}

describe('splitQuestion', () => {
  it('splits at question marks and at "and" before a new question', () => {
    expect(splitQuestion('How many vacation days do I get? Who approves expense reports?')).toEqual([
      'How many vacation days do I get',
      'Who approves expense reports',
    ]);
    expect(splitQuestion('What is the VPN policy and how do I reset my password')).toEqual([
      'What is the VPN policy',
      'how do I reset my password',
    ]);
  });

  it('keeps short conjunctions whole', () => {
    expect(splitQuestion('What are the pros and cons of remote work?')).toEqual([
      'What are the pros and cons of remote work',
    ]);
  });

  it('keeps the subject in a part that points back to it, so "who approves it" is searched with its noun', () => {
    expect(splitQuestion('What is the hotel cap for business trips and who approves it?')).toEqual([
      'What is the hotel cap for business trips',
      'who approves it (hotel cap for business trips)',
    ]);
    expect(splitQuestion('How many vacation days do I get? Who approves expense reports?')).toEqual([
      'How many vacation days do I get',
      'Who approves expense reports',
    ]);
  });
});

describe('RuleQueryDecomposer', () => {
  it('searches the question itself first, then its parts', async () => {
    const plan = await new RuleQueryDecomposer().decompose(
      'How many vacation days do I get? Who approves expense reports?',
    );
    expect(plan).toEqual({
      queries: [
        'How many vacation days do I get? Who approves expense reports?',
        'How many vacation days do I get',
        'Who approves expense reports',
      ],
      decomposedBy: 'rules',
    });
  });

  it('searches a one-part question as is', async () => {
    expect(await new RuleQueryDecomposer().decompose('How many vacation days do I get?')).toEqual({
      queries: ['How many vacation days do I get?'],
      decomposedBy: 'none',
    });
  });

  it(`bounds the parts to ${MAX_SUB_QUERIES}`, async () => {
    const plan = await new RuleQueryDecomposer().decompose(
      'Who owns billing? Who owns search? Who owns auth? Who owns payroll? Who owns ingest? Who owns mail?',
    );
    expect(plan.queries).toHaveLength(1 + MAX_SUB_QUERIES);
  });
});

describe('ModelQueryDecomposer', () => {
  it('asks the chat model for sub-queries under a bounded JSON schema', async () => {
    const chat = chatReturning(async () => ({
      subQueries: ['vacation days per year', 'expense report approver'],
    }));
    const plan = await new ModelQueryDecomposer(chat).decompose(
      'vacation days and who signs off my expenses',
    );
    expect(plan).toEqual({
      queries: [
        'vacation days and who signs off my expenses',
        'vacation days per year',
        'expense report approver',
      ],
      decomposedBy: 'model',
      usage,
    });
    expect(chat.requests[0].responseSchema.schema).toBe(SUB_QUERY_SCHEMA);
    expect(SUB_QUERY_SCHEMA.properties.subQueries).toMatchObject({ maxItems: 4, items: { maxLength: 200 } });
    expect(chat.requests[0].messages[1].content).toContain(
      '<question>vacation days and who signs off my expenses</question>',
    );
  });

  it('falls back to the rules when the call fails or returns no usable list, and says why', async () => {
    const failures: unknown[] = [];
    const question = 'How many vacation days do I get? Who approves expense reports?';
    for (const reply of [
      async () => Promise.reject(new Error('model down')),
      async () => ({ queries: 'not a list' }),
    ]) {
      const plan = await new ModelQueryDecomposer(chatReturning(reply), {
        onFallback: (e) => failures.push(e),
      }).decompose(question);
      expect(plan.decomposedBy).toBe('rules');
      expect(plan.queries).toHaveLength(3);
    }
    expect(failures).toHaveLength(2);
  });

  it('truncates overlong sub-queries and drops repeats of the question', async () => {
    const chat = chatReturning(async () => ({
      subQueries: ['x'.repeat(500), 'Same question', 'other part'],
    }));
    const plan = await new ModelQueryDecomposer(chat).decompose('same question');
    expect(plan.queries.map((q) => q.length)).toEqual([13, 200, 10]);
  });
});
