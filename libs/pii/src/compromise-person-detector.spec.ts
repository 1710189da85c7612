import { CompromisePersonDetector } from './compromise-person-detector';
import { createPiiDetector } from './create-pii-detector';

// The real tagger, with the texts it was given recorded.
const mockTagged: string[] = [];
jest.mock('compromise', () => {
  type Tagger = (text: string) => unknown;
  const actual = jest.requireActual<Tagger | { default: Tagger }>('compromise');
  const tagger = typeof actual === 'function' ? actual : actual.default;
  // The rest of its API (world, version) as it is: the narrowed rule lookup installs itself in it.
  const recording = Object.assign(
    (text: string) => {
      mockTagged.push(text);
      return tagger(text);
    },
    tagger,
    { world: () => (tagger as unknown as { world(): unknown }).world() },
  );
  return { __esModule: true, default: recording };
});

const line = 'Ticket 42: Maria Lopez cannot reset her password.';

function people(detector: CompromisePersonDetector, text: string): string[] {
  return detector.detect(text).map((s) => `${s.text}@${s.start}`);
}

describe('CompromisePersonDetector', () => {
  it('finds a name at its offset in every text that carries its line', () => {
    const detector = new CompromisePersonDetector();
    expect(people(detector, line)).toEqual(['Maria Lopez@11']);
    const prompt = `<request>\nSubject: Password reset\nMessage:\n${line}\n</request>`;
    const at = prompt.indexOf('Maria');
    expect(people(detector, prompt)).toEqual([`Maria Lopez@${at}`]);
    expect(detector.detect(prompt)[0].text).toBe(prompt.slice(at, at + 'Maria Lopez'.length));
  });

  it('tags a line once, however many texts carry it', () => {
    mockTagged.length = 0;
    const detector = new CompromisePersonDetector();
    detector.detect(line);
    detector.detect(`Subject: Password reset\n${line}`);
    detector.detect(`Password reset\n${line}\n\nRegards`);
    // The line once (and each other line once), not once per text that carries it.
    expect(mockTagged.filter((text) => text.includes('Maria'))).toEqual([line]);
    expect(new Set(mockTagged).size).toBe(mockTagged.length);
  });

  it('reads the escaped line breaks of a JSON-encoded prompt as line breaks: its lines are tagged once', () => {
    const detector = new CompromisePersonDetector();
    detector.detect(`Message:\n${line}`);
    mockTagged.length = 0;
    const recorded = JSON.stringify([
      { role: 'user', content: `Subject: Password reset\nMessage:\n${line}\n</request>` },
    ]);
    const at = recorded.indexOf('Maria');
    expect(people(detector, recorded)).toEqual([`Maria Lopez@${at}`]);
    expect(mockTagged.some((text) => text.includes('Maria'))).toBe(false);
  });

  it('finds nothing in a text with no capitalised word, without tagging it', () => {
    mockTagged.length = 0;
    expect(new CompromisePersonDetector().detect('no names here, only lower case')).toEqual([]);
    expect(mockTagged).toEqual([]);
  });

  it('does not tag base64 text, whose capitals all sit inside one word', () => {
    mockTagged.length = 0;
    const detector = new CompromisePersonDetector();
    for (const sealed of [
      'xJ2nqUBnXgNxkHIBWTIfEQ==',
      'vN4yvEixaV/6zggoV69QbNkWV3V1fUFxbsM43cggvJ8SD+FtB48BrVPFGA==',
    ]) {
      expect(detector.detect(sealed)).toEqual([]);
    }
    expect(mockTagged).toEqual([]);
    // A name at the start of a line, after punctuation or inside a bracket is still tagged.
    expect(people(detector, 'Maria Lopez called.')).toEqual(['Maria Lopez@0']);
    expect(people(detector, '(Maria Lopez) called.')).toEqual(['Maria Lopez@1']);
  });

  it('shares its answers between the detectors of a process: a line is tagged once, whichever detector sees it', () => {
    mockTagged.length = 0;
    const text = 'Ticket 77: Maria Lopez was charged twice.';
    const masking = createPiiDetector();
    const logScrubbing = createPiiDetector();
    expect(masking.detect(text).map((s) => s.text)).toEqual(['Maria Lopez']);
    expect(logScrubbing.detect(text).map((s) => s.text)).toEqual(['Maria Lopez']);
    expect(mockTagged.filter((t) => t === text)).toHaveLength(1);
  });

  it("tags a line that carries a line tagged before (a request's text inside the retrieval query) only around it", () => {
    const detector = new CompromisePersonDetector();
    const body = 'Ticket 9: Maria Lopez clicked Forgot password twice but no email came.';
    const subject = 'Password reset email never arrives';
    expect(people(detector, body)).toEqual(['Maria Lopez@10']);
    mockTagged.length = 0;
    const classified = `${subject} ${body}`;
    const query = `Acme Sync ${classified}`;
    expect(people(detector, classified)).toEqual([`Maria Lopez@${classified.indexOf('Maria')}`]);
    expect(people(detector, query)).toEqual([`Maria Lopez@${query.indexOf('Maria')}`]);
    // Only what lies around the body: the subject, then the product's name with it (both
    // capitalised where they meet, so not cut there); the same for every ticket of the product.
    expect(mockTagged).toEqual([subject, `Acme Sync ${subject}`]);
    // The same findings as tagging each whole line afresh.
    expect(people(new CompromisePersonDetector(), classified)).toEqual(people(detector, classified));
    expect(people(new CompromisePersonDetector(), query)).toEqual(people(detector, query));
  });

  it('tags a line whole where a name could run across the seam with a line tagged before', () => {
    const detector = new CompromisePersonDetector();
    const part = 'Lopez cannot reset her password since Monday.';
    detector.detect(part);
    mockTagged.length = 0;
    expect(people(detector, `Maria ${part}`)).toEqual(['Maria Lopez@0']);
    expect(mockTagged).toEqual([`Maria ${part}`]);
  });
});
