import { createHash, randomBytes } from 'node:crypto';
import {
  COMPROMISE_DETECTOR,
  CompromisePersonDetector,
  compromiseTagCalls,
  tagForAttestation,
} from './compromise-person-detector';
import { PII_ATTESTATION_HEADER, PiiAttestations, piiAttestationMetrics } from './pii-attestation';
import type { PiiSpan } from './pii-detector';

const key = randomBytes(32);
const ticket = [
  'Subject: cannot log in since Monday',
  'Hello, this is Oliver Twist from the Leeds office. My manager Maria Schmidt asked me to write.',
  'Please call me back, Oliver',
].join('\n');
const answer = 'Dear Oliver Twist, reset your password under Settings. Regards, Anna from the service desk';

/** What a stage does with an event: tags `text` in the scope of a message carrying `headers`. */
async function stage(
  attestations: PiiAttestations,
  headers: Record<string, string>,
  text: string,
  detector = new CompromisePersonDetector(),
): Promise<{ spans: PiiSpan[]; tagged: number; published: string | undefined }> {
  return attestations.consume(headers, async () => {
    const before = compromiseTagCalls();
    const spans = detector.detect(text);
    const tagged = compromiseTagCalls() - before;
    return { spans, tagged, published: attestations.publishHeaders()?.[PII_ATTESTATION_HEADER] };
  });
}

/** The header a first stage attaches after tagging `text` (as if it came from outside). */
async function attested(text: string, attestations = new PiiAttestations(key, COMPROMISE_DETECTOR)) {
  const { published } = await stage(attestations, {}, text);
  if (published === undefined) throw new Error('no attestation attached');
  return published;
}

async function refusals(outcome: string): Promise<number> {
  const metric = await piiAttestationMetrics.attestations.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('PII attestations between stages', () => {
  const receiver = new PiiAttestations(key, COMPROMISE_DETECTOR);
  const fresh = (text: string) => new CompromisePersonDetector().detect(text);

  it('reuses the spans of a valid attestation: no line tagged again, the same spans', async () => {
    const header = await attested(ticket);
    const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, ticket);
    expect(result.tagged).toBe(0);
    expect(result.spans).toEqual(fresh(ticket));
    expect(result.spans.map((s) => s.text)).toEqual(['Oliver Twist', 'Maria Schmidt', 'Oliver']);
    // Without it the same stage tags every line.
    expect((await stage(receiver, {}, ticket)).tagged).toBe(3);
  });

  it('forwards what it received and what it tagged, so the stage after it tags neither', async () => {
    const first = await attested(ticket);
    const second = await stage(receiver, { [PII_ATTESTATION_HEADER]: first }, `${ticket}\n${answer}`);
    expect(second.tagged).toBe(1);
    const third = await stage(
      receiver,
      { [PII_ATTESTATION_HEADER]: second.published! },
      `${answer}\n${ticket}`,
    );
    expect(third.tagged).toBe(0);
    expect(third.spans).toEqual(fresh(`${answer}\n${ticket}`));
  });

  it('attaches nothing outside a consumed event, and nothing for an event whose lines were all cached', async () => {
    expect(receiver.publishHeaders()).toBeUndefined();
    const detector = new CompromisePersonDetector();
    await stage(receiver, {}, ticket, detector);
    expect((await stage(receiver, {}, ticket, detector)).published).toBeUndefined();
  });

  it('ignores a forged or modified attestation and tags the text itself', async () => {
    const header = await attested(ticket);
    const before = await refusals('unauthenticated');
    // Spans moved by one, the MAC left as it was.
    const modified = header.replace(/\[(\d+),/, (_m, start: string) => `[${Number(start) + 1},`);
    expect(modified).not.toBe(header);
    // Signed with another key: a producer that does not hold LLMBUS_PII_KEY.
    const forged = await attested(ticket, new PiiAttestations(randomBytes(32), COMPROMISE_DETECTOR));
    for (const value of [modified, forged, header.slice(0, header.lastIndexOf('.')), `${header}x`, '']) {
      const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: value }, ticket);
      expect(result.tagged).toBe(3);
      expect(result.spans).toEqual(fresh(ticket));
    }
    expect((await refusals('unauthenticated')) - before).toBe(5);
  });

  it('applies nothing of an attestation made for another text (replayed onto another event)', async () => {
    const header = await attested(ticket);
    const other = ticket.replace('Oliver Twist', 'Olivia Twain');
    const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, other);
    // The two unchanged lines are the same text: their spans apply; the changed one is tagged.
    expect(result.tagged).toBe(1);
    expect(result.spans).toEqual(fresh(other));
    expect(result.spans.map((s) => s.text)).toContain('Olivia Twain');
  });

  it('ignores an attestation of another detector configuration', async () => {
    const before = await refusals('other_config');
    const other = new PiiAttestations(key, { name: 'compromise', fingerprint: 'older-rules' });
    const header = other.attest(new Map([[other.digestOf(ticket.split('\n')[1]), []]]))!;
    const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, ticket);
    expect(result.tagged).toBe(3);
    expect(result.spans).toEqual(fresh(ticket));
    expect((await refusals('other_config')) - before).toBe(1);
  });

  it('ignores an oversized attestation and a malformed one, even when authenticated', async () => {
    const generous = new PiiAttestations(key, COMPROMISE_DETECTOR, { maxLines: 10_000, maxChars: 1_000_000 });
    const lines = new Map(
      Array.from({ length: 500 }, (_, i) => [generous.digestOf(`Line ${i}`), []] as const),
    );
    lines.set(generous.digestOf(ticket.split('\n')[1]), []);
    const big = generous.attest(lines)!;
    const malformed = generous.attest(
      new Map([[generous.digestOf(ticket.split('\n')[1]), [{ start: 5, end: 2 }]]]),
    )!;
    const [oversized, bad] = [await refusals('oversized'), await refusals('malformed')];
    for (const value of [big, malformed]) {
      const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: value }, ticket);
      expect(result.tagged).toBe(3);
      expect(result.spans).toEqual(fresh(ticket));
    }
    expect((await refusals('oversized')) - oversized).toBe(1);
    expect((await refusals('malformed')) - bad).toBe(1);
  });

  it('attaches the most recent lines within its bounds', async () => {
    const small = new PiiAttestations(key, COMPROMISE_DETECTOR, { maxLines: 2, maxChars: 4096 });
    const text = ['Anna Berg wrote', 'Bob Stone replied', 'Carl Moss agreed', 'Dora Lind closed it'].join(
      '\n',
    );
    const { published } = await stage(small, {}, text);
    const verified = small.verify(published!);
    expect(verified.ok && [...verified.lines.keys()]).toEqual([
      small.digestOf('Carl Moss agreed'),
      small.digestOf('Dora Lind closed it'),
    ]);
  });

  it('reuses an attested line found at a seam inside a longer line, and tags only the rest', async () => {
    const message = ticket.split('\n')[1];
    const header = await attested(message);
    const query = `Acme Sync cannot log in since Monday ${message}`;
    const result = await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, query);
    expect(result.tagged).toBe(1);
    expect(result.spans).toEqual(fresh(query));
    // Not at a seam (a capitalised word on both sides of it): the whole line is tagged.
    const joined = `Dear Anna ${message}`;
    expect((await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, joined)).tagged).toBe(1);
    expect((await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, joined)).spans).toEqual(
      fresh(joined),
    );
  });

  it('tagForAttestation attests each text as itself within a scope, and does nothing outside one', async () => {
    const subject = 'Locked out after the update from Friday';
    const message = 'My colleague Peter Hansen from accounting has the same problem since this morning.';
    const before = compromiseTagCalls();
    tagForAttestation([subject, message]);
    expect(compromiseTagCalls()).toBe(before);
    const header = await receiver.consume({}, async () => {
      tagForAttestation([subject, message]);
      return receiver.publishHeaders()?.[PII_ATTESTATION_HEADER];
    });
    const verified = receiver.verify(header!);
    expect(verified.ok && [...verified.lines.keys()]).toEqual([
      receiver.digestOf(subject),
      receiver.digestOf(message),
    ]);
  });

  it('passes a received attestation on as it came when it tags nothing, and never one it refused', async () => {
    const header = await attested(ticket);
    // Nothing tagged (an event whose texts were all cached): the header goes on unread and unsigned again.
    expect((await stage(receiver, { [PII_ATTESTATION_HEADER]: header }, '')).published).toBe(header);
    // A forged one passed on unread is refused by the stage that reads it.
    const forged = await attested(ticket, new PiiAttestations(randomBytes(32), COMPROMISE_DETECTOR));
    const passed = (await stage(receiver, { [PII_ATTESTATION_HEADER]: forged }, '')).published!;
    expect((await stage(receiver, { [PII_ATTESTATION_HEADER]: passed }, ticket)).tagged).toBe(3);
    // Read and refused: what goes on is this stage's own lines only, signed with the key.
    const own = await stage(receiver, { [PII_ATTESTATION_HEADER]: forged }, ticket);
    const verified = receiver.verify(own.published!);
    expect(verified.ok && [...verified.lines.keys()]).toEqual(
      ticket.split('\n').map((line) => receiver.digestOf(line)),
    );
    expect(own.published).not.toBe(forged);
  });

  it('gives lines that differ only in a lone surrogate different digests (UTF-8 would not)', () => {
    expect(receiver.digestOf('Anna Berg \uD800')).not.toBe(receiver.digestOf('Anna Berg \uFFFD'));
  });

  it('attests lines by digests no one without the key can recompute (a dead letter shows its headers to readers)', async () => {
    // A signature line is often a name alone: an unkeyed SHA-256 of it is reversed by trying names.
    const signature = 'Jane Doe';
    const header = await attested(`Hello, I cannot log in.\n${signature}`);
    const body = header.slice(0, header.lastIndexOf('.'));
    for (const encoding of ['utf8', 'utf16le'] as const) {
      const plain = createHash('sha256').update(Buffer.from(signature, encoding)).digest('base64url');
      expect(body).not.toContain(plain);
    }
    // Another key gives other digests for the same line.
    const other = await attested(
      `Hello, I cannot log in.\n${signature}`,
      new PiiAttestations(randomBytes(32), COMPROMISE_DETECTOR),
    );
    const lineDigests = (value: string) =>
      Object.keys((JSON.parse(value.slice(0, value.lastIndexOf('.'))) as { s: object }).s);
    expect(lineDigests(other).filter((d) => lineDigests(header).includes(d))).toEqual([]);
  });
});
