import {
  codePointBoundary,
  describeUnstorableText,
  DocumentSubmittedEvent,
  findUnstorableText,
  isStorableText,
  RequestSubmittedEvent,
  toStorableText,
  toStorableValue,
  truncateText,
  validateAttributes,
  validatePayload,
} from './index';

const EMOJI = '\u{1F600}'; // 😀: two UTF-16 code units, a surrogate pair
const HIGH = '\uD83D';
const LOW = '\uDE00';

describe('text rules', () => {
  describe('truncateText', () => {
    it('never leaves a lone surrogate, whatever the cut position in a run of emoji', () => {
      // The input: a subject followed by 4,100 emoji, cut at a fixed length.
      const text = `Printer on fire ${EMOJI.repeat(4100)}`;
      const wrong: number[] = [];
      for (let max = 0; max <= text.length + 1; max++) {
        const cut = truncateText(text, max);
        // A prefix, storable, within the limit, and at most the pair's first half shorter than asked.
        const ok =
          isStorableText(cut) &&
          text.startsWith(cut) &&
          cut.length <= max &&
          cut.length >= Math.min(max, text.length) - 1;
        if (!ok) wrong.push(max);
      }
      expect(wrong).toEqual([]);
      // The bare slice this replaces leaves a lone surrogate at every other position.
      expect(isStorableText(text.slice(0, 17))).toBe(false);
    });

    it('cuts plain text and short text exactly as slice does', () => {
      expect(truncateText('hello', 3)).toBe('hel');
      expect(truncateText('hello', 10)).toBe('hello');
      expect(truncateText('hello', 0)).toBe('');
      expect(truncateText(`a${EMOJI}`, 2)).toBe('a');
      expect(truncateText(`a${EMOJI}`, 3)).toBe(`a${EMOJI}`);
    });

    it('refuses a NaN length instead of returning an empty string silently', () => {
      expect(() => truncateText('abc', Number.NaN)).toThrow(RangeError);
    });

    it('codePointBoundary moves a cut between the halves of a pair back by one, and clamps', () => {
      const text = `a${EMOJI}b`;
      expect(codePointBoundary(text, 2)).toBe(1);
      expect(codePointBoundary(text, 3)).toBe(3);
      expect(codePointBoundary(text, -5)).toBe(0);
      expect(codePointBoundary(text, 99)).toBe(text.length);
    });
  });

  describe('findUnstorableText', () => {
    it('finds U+0000 in a nested value and names its JSON path and position', () => {
      const found = findUnstorableText({ input: { subject: 'ok', body: 'a\u0000b\u0000' } });
      expect(found).toEqual([expect.objectContaining({ path: 'input.body', kind: 'nul', inKey: false })]);
      expect(found[0].problem).toMatch(/U\+0000 \(NUL\) at UTF-16 index 1 \(2 in all\)/);
    });

    it('finds a lone high surrogate (a cut emoji) and a lone low surrogate, in arrays too', () => {
      const found = findUnstorableText({ tags: ['fine', `x${HIGH}`], notes: [{ text: `${LOW}y` }] });
      expect(found.map((f) => [f.path, f.kind])).toEqual([
        ['tags[1]', 'lone_surrogate'],
        ['notes[0].text', 'lone_surrogate'],
      ]);
      expect(found[0].problem).toMatch(
        /lone high surrogate without its low half \(U\+D83D\) at UTF-16 index 1/,
      );
      expect(found[1].problem).toMatch(
        /lone low surrogate without its high half \(U\+DE00\) at UTF-16 index 0/,
      );
    });

    it('checks object keys, and names a bad key without putting the bad character in the path', () => {
      const found = findUnstorableText({ input: { 'a\u0000b': 1, [`k${HIGH}`]: 'v' } });
      expect(found.map((f) => [f.path, f.kind, f.inKey])).toEqual([
        ['input["a\\u0000b"]', 'nul', true],
        ['input["k\\ud83d"]', 'lone_surrogate', true],
      ]);
      expect(found[0].problem).toMatch(/^the key contains U\+0000/);
      for (const f of found) expect(isStorableText(`${f.path}: ${f.problem}`)).toBe(true);
    });

    it('accepts well-formed text: emoji pairs, U+FFFD, other control characters', () => {
      expect(findUnstorableText({ a: `${EMOJI} \uFFFD \u0001 \t`, b: [1, true, null], c: 'é' })).toEqual([]);
    });

    it('walks deep nesting without overflowing the stack', () => {
      const depth = 100_000;
      const deep = JSON.parse(`${'{"a":'.repeat(depth)}"x\\u0000"${'}'.repeat(depth)}`) as unknown;
      const [found] = findUnstorableText(deep);
      expect(found.kind).toBe('nul');
      expect(found.path.split('.')).toHaveLength(depth);
    });

    it('stops at the limit', () => {
      expect(
        findUnstorableText(
          Array.from({ length: 50 }, () => '\u0000'),
          { limit: 3 },
        ),
      ).toHaveLength(3);
    });

    it('prefixes the root and names a bare string "$"', () => {
      expect(findUnstorableText('\u0000')[0].path).toBe('$');
      expect(findUnstorableText({ x: '\u0000' }, { root: 'data' })[0].path).toBe('data.x');
      expect(describeUnstorableText(findUnstorableText({ x: '\u0000' }))[0]).toMatch(/^x: contains U\+0000/);
    });
  });

  describe('toStorableText / toStorableValue', () => {
    it('replaces U+0000 and lone surrogates with U+FFFD, keeping pairs and length', () => {
      const text = `a\u0000${EMOJI}${HIGH}b${LOW}`;
      const storable = toStorableText(text);
      expect(storable).toBe(`a\uFFFD${EMOJI}\uFFFDb\uFFFD`);
      expect(storable.length).toBe(text.length);
      expect(toStorableText('plain')).toBe('plain');
    });

    it('makes every string and key of a JSON value storable, recursively', () => {
      const value = { 'k\u0000': [`x${HIGH}`, { deep: '\u0000' }], n: 1, ok: EMOJI };
      const storable = toStorableValue(value);
      expect(storable).toEqual({ 'k\uFFFD': ['x\uFFFD', { deep: '\uFFFD' }], n: 1, ok: EMOJI });
      expect(findUnstorableText(storable)).toEqual([]);
    });

    it('JSON.stringify writes a lone surrogate as an escape, which is why jsonb refuses the text', () => {
      expect(JSON.stringify(`x${HIGH}`)).toBe('"x\\ud83d"');
      expect(JSON.stringify('x\u0000')).toBe('"x\\u0000"');
      expect(JSON.stringify(toStorableText(`x${HIGH}`))).toBe('"x\uFFFD"');
    });
  });

  describe('the consumer edge (validatePayload, validateAttributes)', () => {
    const request = (input: Record<string, unknown>) => ({
      requestId: 'r-1',
      eventType: 'ticket.created',
      input,
      requester: { groups: [] },
    });

    it('rejects a RequestSubmitted whose input holds U+0000, naming the field', () => {
      const result = validatePayload(RequestSubmittedEvent, request({ subject: 'hi\u0000' }));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors).toEqual([expect.stringMatching(/^input\.subject: contains U\+0000/)]);
    });

    it('rejects a RequestSubmitted whose text was cut in the middle of an emoji', () => {
      const body = EMOJI.repeat(4100).slice(0, 8001);
      const result = validatePayload(RequestSubmittedEvent, request({ subject: 's', body }));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors[0]).toMatch(/^input\.body: contains a lone high surrogate/);
    });

    it('rejects a bad key in requester groups or input, and keeps other validation errors', () => {
      const result = validatePayload(RequestSubmittedEvent, {
        ...request({ ['a\u0000']: 1 }),
        requester: { groups: [`g${LOW}`] },
        replyTo: 5,
      });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^input\["a\\u0000"\]: the key contains U\+0000/),
          expect.stringMatching(/^requester\.groups\[0\]: contains a lone low surrogate/),
          expect.stringMatching(/^replyTo: /),
        ]),
      );
    });

    it('rejects a DocumentSubmitted whose content holds U+0000 (a binary file)', () => {
      const result = validatePayload(DocumentSubmittedEvent, {
        documentId: 'd-1',
        collection: 'kb',
        title: 'manual',
        sourceUri: 'file:///manual.pdf',
        contentType: 'text/plain',
        content: '%PDF-1.7\u0000\u0000binary',
        aclGroups: [],
        version: 1,
      });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors).toEqual([expect.stringMatching(/^content: contains U\+0000 .* \(2 in all\)/)]);
    });

    it('rejects envelope attributes holding U+0000 (they are stored as text columns)', () => {
      const result = validateAttributes({
        id: 'e-1',
        source: '/upstream\u0000',
        type: RequestSubmittedEvent.type,
        specversion: '1.0',
        time: new Date(0).toISOString(),
        correlationid: 'r-1',
        tenantid: 'acme',
        schemaversion: 1,
      });
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.errors).toEqual([expect.stringMatching(/^source: contains U\+0000/)]);
    });

    it('still accepts well-formed text with emoji', () => {
      expect(validatePayload(RequestSubmittedEvent, request({ subject: EMOJI.repeat(4100) })).ok).toBe(true);
    });
  });
});
