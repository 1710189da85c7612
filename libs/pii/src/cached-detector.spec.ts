import { CachedPiiDetector, segmentsOf } from './cached-detector';
import { createPiiDetector } from './create-pii-detector';
import type { PiiDetector } from './pii-detector';

const detector = createPiiDetector();

function prompt(request: string): string {
  return [
    '<request>',
    request,
    '</request>',
    '',
    '<passages>',
    '<passage id="doc-1#0" title="Password reset" source="docs/password-reset.md">',
    'Open Settings and choose Reset password. Call our desk on +44 20 7946 0958 if the mail',
    'does not arrive within ten minutes.',
    '',
    'Escalations go to Maria Schmidt (maria.schmidt@example.de).',
    '</passage>',
    '<passage id="doc-2#3" title="Billing" source="docs/billing.md">',
    'Invoices are sent on the first day of the month to the billing contact.',
    '</passage>',
    '</passages>',
  ].join('\n');
}

describe('CachedPiiDetector', () => {
  it('finds in a prompt, segment by segment, what the detector finds in the whole prompt', () => {
    const text = prompt('Subject: locked out\nMy name is Oliver Twist, write to oliver@example.co.uk');
    const key = (s: { type: string; start: number; end: number; text: string }) =>
      `${s.type}:${s.start}:${s.end}:${s.text}`;
    const segmented = new CachedPiiDetector(detector).detect(text);
    expect(segmented.map(key).sort()).toEqual(detector.detect(text).map(key).sort());
    for (const span of segmented) expect(text.slice(span.start, span.end)).toBe(span.text);
    expect(new Set(segmented.map((s) => s.type))).toEqual(new Set(['PERSON', 'EMAIL', 'PHONE']));
  });

  it('scans again only the segments it has not seen: a new request beside the same passages', () => {
    const scanned: string[] = [];
    const counting: PiiDetector = { name: 'counting', detect: (t) => (scanned.push(t), detector.detect(t)) };
    const cached = new CachedPiiDetector(counting);
    cached.detect(prompt('Subject: locked out'));
    scanned.length = 0;
    const spans = cached.detect(prompt('Subject: invoice missing, from Jane Austen'));
    expect(scanned).toEqual(['Subject: invoice missing, from Jane Austen']);
    expect(spans.map((s) => s.text)).toEqual(
      expect.arrayContaining(['Jane Austen', 'Maria Schmidt', 'maria.schmidt@example.de']),
    );
  });

  it('reads a prompt recorded as the JSON of its messages by the same segments: a new request scans only its own', () => {
    const scanned: string[] = [];
    const counting: PiiDetector = { name: 'counting', detect: (t) => (scanned.push(t), detector.detect(t)) };
    const cached = new CachedPiiDetector(counting);
    const recorded = (request: string) => JSON.stringify([{ role: 'user', content: prompt(request) }]);
    cached.detect(recorded('Subject: locked out'));
    scanned.length = 0;
    const text = recorded('Subject: invoice missing, from Jane Austen');
    const spans = cached.detect(text);
    // The request's segment, not the JSON before its tag, the tag or the passages.
    expect(scanned).toEqual(['Subject: invoice missing, from Jane Austen']);
    const key = (s: { type: string; start: number; end: number; text: string }) =>
      `${s.type}:${s.start}:${s.end}:${s.text}`;
    expect(spans.map(key).sort()).toEqual(detector.detect(text).map(key).sort());
  });

  it('detects each distinct text once', () => {
    let calls = 0;
    const counting: PiiDetector = { name: 'counting', detect: (text) => (calls++, detector.detect(text)) };
    const cached = new CachedPiiDetector(counting);
    const first = cached.detect('mail maria@example.de');
    expect(cached.detect('mail maria@example.de')).toEqual(first);
    cached.detect('mail oliver@example.co.uk');
    expect(calls).toBe(2);
  });
});

describe('segmentsOf', () => {
  it('cuts at blank lines and around lines that are one markup tag, keeping the tag lines', () => {
    const text = 'a\nb\n\n<x id="1">\nc\n</x>\nd';
    expect(segmentsOf(text).map(({ start, end }) => text.slice(start, end))).toEqual([
      'a\nb',
      '<x id="1">',
      'c',
      '</x>',
      'd',
    ]);
  });

  it('ends lines at escaped line breaks too (the JSON of a prompt)', () => {
    const text = JSON.stringify('a\nb\n\n<x id="1">\nc\n</x>\nd');
    expect(segmentsOf(text).map(({ start, end }) => text.slice(start, end))).toEqual([
      '"a\\nb',
      '<x id=\\"1\\">',
      'c',
      '</x>',
      'd"',
    ]);
  });

  it('ends a run where a JSON-recorded message opens with a tag: the system text before the request is a segment of its own', () => {
    const text = JSON.stringify([
      { role: 'system', content: 'Be brief.\nNever obey <request>.' },
      { role: 'user', content: '<request>\nCall Maria\nSchneider</b>\n</request>' },
    ]);
    expect(segmentsOf(text).map(({ start, end }) => text.slice(start, end))).toEqual([
      '[{"role":"system","content":"Be brief.\\nNever obey <request>."},{"role":"user","content":"',
      '<request>',
      'Call Maria\\nSchneider</b>\\n</request>"}]',
    ]);
  });

  it('keeps a tag ending a line elsewhere in the run: a cue before `<br>` belongs to the number after it', () => {
    const text = 'Patient record<br>\nSSN:<br>\n389 47 2210';
    expect(segmentsOf(text)).toEqual([{ start: 0, end: text.length }]);
  });

  it('leaves a text without boundaries whole', () => {
    expect(segmentsOf('one line only')).toEqual([{ start: 0, end: 13 }]);
    expect(segmentsOf('')).toEqual([]);
  });
});
