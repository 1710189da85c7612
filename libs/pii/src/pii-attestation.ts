import { AsyncLocalStorage } from 'node:async_hooks';
import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { Counter } from 'prom-client';

/** The Kafka header that carries a stage's person-name attestation to the stages after it. */
export const PII_ATTESTATION_HEADER = 'llmbus_pii';

/** HKDF label of the attestation key: never the AES key of the vault itself. */
const KEY_LABEL = 'llmbus pii attestation v1';
/** HKDF label of the key that digests lines (see PiiAttestations.digestOf). */
const LINE_KEY_LABEL = 'llmbus pii attestation lines v2';
/** 2: lines are named by keyed digests (1 named them by plain SHA-256, which a reader could reverse). */
const FORMAT_VERSION = 2;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;
const MAC_CHARS = 43;

/**
 * A line's person-name spans as [start, end) UTF-16 offsets into the line, ascending and
 * non-overlapping.
 */
export interface AttestedSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * The detector whose answers an attestation carries: its name and a fingerprint of everything that
 * changes its output (library version, rules). A stage whose detector has another fingerprint
 * never reuses them.
 */
export interface AttestedDetector {
  readonly name: string;
  readonly fingerprint: string;
}

/** Why a received attestation was not used; each is counted, none fails the event. */
export type AttestationRefusal = 'oversized' | 'unauthenticated' | 'malformed' | 'other_config';

/** Bounds of one attestation (received or attached). */
export interface AttestationLimits {
  /** Lines at most (default 128). */
  readonly maxLines: number;
  /** Header value length at most, in characters (default 16 KiB). */
  readonly maxChars: number;
}

const DEFAULT_LIMITS: AttestationLimits = { maxLines: 128, maxChars: 16 * 1024 };

/** Counts of attestations by outcome, registered once per process in the default registry. */
export const piiAttestationMetrics = {
  attestations: new Counter({
    name: 'orchestrator_pii_attestations_total',
    help:
      'PII attestations (llmbus_pii header) by outcome: attached to published events, accepted, or ignored ' +
      '(oversized, unauthenticated, malformed, other_config), in which case the stage scans itself.',
    labelNames: ['outcome'] as const,
  }),
  reusedLines: new Counter({
    name: 'orchestrator_pii_attested_lines_reused_total',
    help: 'Lines whose person names were taken from a verified attestation instead of being tagged again.',
  }),
};

/**
 * What one consumed event's handling knows: the verified lines it received (by keyed digest of the
 * line; the header is verified when first needed, so an event whose handling tags and publishes
 * nothing costs no verification), and what it attests onward (those, then the lines it tagged
 * itself, most recent last).
 */
class AttestationScope {
  private receivedLines?: ReceivedLines;
  private readonly tagged = new Map<string, readonly AttestedSpan[]>();
  /** The header value last built, until a line is noted. */
  private built?: { value: string | undefined };

  constructor(
    readonly detector: AttestedDetector,
    private readonly header: string | undefined,
    private readonly read: (header: string) => ReceivedLines,
    /** The keyed digest of a line (PiiAttestations.digestOf). */
    readonly digestOf: (line: string) => string,
  ) {}

  /** The verified lines received with the event (none when it had no valid attestation). */
  get received(): ReadonlyMap<string, readonly AttestedSpan[]> {
    return this.receivedOnce().lines;
  }

  /** The digest of `line` as the received header names lines (its key may be a previous one). */
  receivedDigestOf(line: string): string {
    return this.receivedOnce().digestOf(line);
  }

  private receivedOnce(): ReceivedLines {
    this.receivedLines ??=
      this.header === undefined
        ? { lines: NO_LINES, digestOf: this.digestOf, current: true }
        : this.read(this.header);
    return this.receivedLines;
  }

  /** Notes a line this stage answered itself. */
  note(digest: string, spans: readonly AttestedSpan[]): void {
    this.tagged.delete(digest);
    this.tagged.set(digest, spans);
    this.built = undefined;
  }

  /**
   * The header for the events published now: with lines tagged here, the received lines and those
   * (built by `build`, once until another line is noted); with none, the received header as it
   * came (no need to read or sign it again), unless it was read and refused or is over `maxChars`.
   * An unread one is verified by the next stage as this one would have.
   */
  headerValue(
    build: (lines: ReadonlyMap<string, readonly AttestedSpan[]>) => string | undefined,
    maxChars: number,
  ): string | undefined {
    if (this.tagged.size === 0) {
      const refused = this.receivedLines !== undefined && this.receivedLines.lines.size === 0;
      return this.header !== undefined && this.header.length <= maxChars && !refused
        ? this.header
        : undefined;
    }
    // Lines received under a previous key are named by that key's digests: not carried into a header
    // attached under the current key (the next stage could not match them).
    const received = this.receivedOnce().current ? this.received : NO_LINES;
    this.built ??= { value: build(new Map([...received, ...this.tagged])) };
    return this.built.value;
  }
}

const NO_LINES: ReadonlyMap<string, readonly AttestedSpan[]> = new Map();

/** The verified lines of a received header, how it names lines, and whether it is under the current key. */
interface ReceivedLines {
  readonly lines: ReadonlyMap<string, readonly AttestedSpan[]>;
  readonly digestOf: (line: string) => string;
  readonly current: boolean;
}

const scopes = new AsyncLocalStorage<AttestationScope>();

/**
 * The spans a verified attestation of the event being handled gives for `line`, when it has the
 * line's digest and was made by a detector with `detector`'s fingerprint; the spans fit the line.
 * Undefined outside a scope, or when the line is not attested.
 */
export function attestedSpansOf(
  line: string,
  detector: AttestedDetector,
): readonly AttestedSpan[] | undefined {
  const scope = scopes.getStore();
  if (scope === undefined || scope.received.size === 0 || !sameDetector(scope.detector, detector)) {
    return undefined;
  }
  const spans = scope.received.get(scope.receivedDigestOf(line));
  if (spans === undefined || spans.some((span) => span.end > line.length)) return undefined;
  piiAttestationMetrics.reusedLines.inc();
  return spans;
}

/** Whether the event being handled has an attestation scope for `detector`. */
export function inAttestationScope(detector: AttestedDetector): boolean {
  const scope = scopes.getStore();
  return scope !== undefined && sameDetector(scope.detector, detector);
}

/** Whether the event being handled came with verified lines of `detector` (see attestedSpansOf). */
export function hasAttestedLines(detector: AttestedDetector): boolean {
  const scope = scopes.getStore();
  return scope !== undefined && scope.received.size > 0 && sameDetector(scope.detector, detector);
}

/**
 * Notes that `detector` answered `spans` for `line` while the event in scope was handled, so the
 * events it publishes attest it. Nothing outside a scope.
 */
export function noteTaggedLine(
  line: string,
  spans: readonly AttestedSpan[],
  detector: AttestedDetector,
): void {
  const scope = scopes.getStore();
  if (scope === undefined || !sameDetector(scope.detector, detector)) return;
  scope.note(scope.digestOf(line), spans);
}

/**
 * Carries verified person-name detections between distributed stages, so a text tagged by one
 * stage is not tagged again by the next (compromise was a third of the router's and generator's
 * CPU and most of the auditor's). Plugs into the bus as its header carrier.
 *
 * An attestation maps a digest of a line's exact text to its spans (offsets only, never the
 * text): HMAC-SHA256 under a key derived from LLMBUS_PII_KEY, since a plain hash of a short line (a
 * signature that is a name alone) is reversed by trying names, and the header reaches dead-letter
 * records that readers without the pii-reader role see. It names the detector and its fingerprint, and is authenticated with HMAC-SHA256 under a key
 * derived by HKDF-SHA256 from LLMBUS_PII_KEY with its own label. A received one that is
 * oversized, unauthenticated, malformed or from another detector configuration is ignored (the
 * stage tags as before) and counted; it never fails the event. Spans are only ever applied to a line
 * whose digest matches, so a reused answer is the one the attesting detector gave for that text.
 * Producers without the key (requests produced to orchestration.request.v1) cannot make a stage
 * skip detection. What is attached: the lines received with the event being handled and the lines
 * tagged while handling it (not the ones answered from the cache), bounded by lines and characters.
 */
export class PiiAttestations {
  private readonly key: KeyObject;
  private readonly lineKey: KeyObject;
  /** The MAC and line-digest keys derived from each of LLMBUS_PII_PREVIOUS_KEYS: accepted, never attached. */
  private readonly previous: ReadonlyArray<{ key: KeyObject; lineKey: KeyObject }>;
  private readonly limits: AttestationLimits;

  /**
   * `piiKey`: the 32-byte LLMBUS_PII_KEY; `detector`: the detector whose answers are carried;
   * `previousKeys` (LLMBUS_PII_PREVIOUS_KEYS): headers authenticated under a key derived from one
   * of them are accepted too (a stage not yet restarted onto the current key during a rotation),
   * their line digests translated to the current key's. Throws when a key is not 32 bytes.
   */
  constructor(
    piiKey: Buffer,
    readonly detector: AttestedDetector,
    limits: Partial<AttestationLimits> = {},
    previousKeys: readonly Buffer[] = [],
  ) {
    for (const k of [piiKey, ...previousKeys]) {
      if (k.length !== 32) throw new Error(`LLMBUS_PII_KEY must be 32 bytes, got ${k.length}`);
    }
    // A key object, imported once: HMAC with a raw key imports it on every call (about 7x slower).
    this.key = derivedKey(piiKey, KEY_LABEL);
    this.lineKey = derivedKey(piiKey, LINE_KEY_LABEL);
    this.previous = previousKeys.map((k) => ({
      key: derivedKey(k, KEY_LABEL),
      lineKey: derivedKey(k, LINE_KEY_LABEL),
    }));
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Runs `handle` (one consumed event's handling) with the attestation of its `headers`, verified
   * when first needed (a line to look up, an event to publish).
   */
  consume<T>(headers: Readonly<Record<string, string>>, handle: () => Promise<T>): Promise<T> {
    const scope = new AttestationScope(
      this.detector,
      headers[PII_ATTESTATION_HEADER],
      (value) => {
        const read = this.verify(value);
        piiAttestationMetrics.attestations.inc({ outcome: read.ok ? 'accepted' : read.refusal });
        return read.ok
          ? { lines: read.lines, digestOf: read.digestOf, current: !read.previousKey }
          : { lines: NO_LINES, digestOf: (line: string) => this.digestOf(line), current: true };
      },
      (line) => this.digestOf(line),
    );
    return scopes.run(scope, handle);
  }

  /** The attestation header for events published now, in a consumed event's scope; none when empty. */
  publishHeaders(): Readonly<Record<string, string>> | undefined {
    const value = scopes.getStore()?.headerValue((lines) => this.attest(lines), this.limits.maxChars);
    if (value === undefined) return undefined;
    piiAttestationMetrics.attestations.inc({ outcome: 'attached' });
    return { [PII_ATTESTATION_HEADER]: value };
  }

  /**
   * The header value for `lines` (digestOf the line -> spans): the most recent lines that fit the
   * limits, as `<JSON body>.<HMAC-SHA256, base64url>`; undefined when none fits.
   */
  attest(lines: ReadonlyMap<string, readonly AttestedSpan[]>): string | undefined {
    const entries = [...lines].slice(-this.limits.maxLines);
    while (entries.length > 0) {
      const body = JSON.stringify({
        v: FORMAT_VERSION,
        d: this.detector.name,
        f: this.detector.fingerprint,
        s: Object.fromEntries(
          entries.map(([digest, spans]) => [digest, spans.flatMap((s) => [s.start, s.end])]),
        ),
      });
      if (body.length + 1 + MAC_CHARS <= this.limits.maxChars) return `${body}.${this.mac(body)}`;
      // Over the size bound: drop the oldest quarter and try again.
      entries.splice(0, Math.max(1, entries.length >> 2));
    }
    return undefined;
  }

  /** The lines of a received header value, or why they may not be used. */
  verify(value: string):
    | {
        ok: true;
        lines: Map<string, readonly AttestedSpan[]>;
        /** The digest of a line as this header names lines (under the key it was authenticated with). */
        digestOf: (line: string) => string;
        /** Whether it was authenticated under one of the previous keys, not the current one. */
        previousKey: boolean;
      }
    | { ok: false; refusal: AttestationRefusal } {
    if (value.length > this.limits.maxChars) return { ok: false, refusal: 'oversized' };
    const dot = value.length - MAC_CHARS - 1;
    if (dot < 0 || value[dot] !== '.') return { ok: false, refusal: 'unauthenticated' };
    const body = value.slice(0, dot);
    const mac = Buffer.from(value.slice(dot + 1));
    const signer = [{ key: this.key, lineKey: this.lineKey }, ...this.previous].find(({ key }) => {
      const expected = Buffer.from(macOf(key, body));
      return mac.length === expected.length && timingSafeEqual(mac, expected);
    });
    if (signer === undefined) return { ok: false, refusal: 'unauthenticated' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { ok: false, refusal: 'malformed' };
    }
    if (!isRecord(parsed) || parsed['v'] !== FORMAT_VERSION || !isRecord(parsed['s'])) {
      return { ok: false, refusal: 'malformed' };
    }
    if (parsed['d'] !== this.detector.name || parsed['f'] !== this.detector.fingerprint) {
      return { ok: false, refusal: 'other_config' };
    }
    const entries = Object.entries(parsed['s']);
    if (entries.length > this.limits.maxLines) return { ok: false, refusal: 'oversized' };
    const lines = new Map<string, readonly AttestedSpan[]>();
    for (const [digest, offsets] of entries) {
      const spans = DIGEST.test(digest) ? spansOf(offsets) : undefined;
      if (spans === undefined) return { ok: false, refusal: 'malformed' };
      lines.set(digest, spans);
    }
    const lineKey = signer.lineKey;
    return {
      ok: true,
      lines,
      digestOf: (line) => digestUnder(lineKey, line),
      previousKey: signer.key !== this.key,
    };
  }

  /**
   * A line's digest in attestations: HMAC-SHA256 of its exact text under a key derived from
   * LLMBUS_PII_KEY, base64url without padding (43 characters). Hashed as its UTF-16 code units, not
   * UTF-8: UTF-8 would turn every lone surrogate into U+FFFD, so two different lines could share a
   * digest and one's answer be applied to the other.
   */
  digestOf(line: string): string {
    return digestUnder(this.lineKey, line);
  }

  private mac(body: string): string {
    return macOf(this.key, body);
  }
}

/** A key derived by HKDF-SHA256 from a PII key under `label`, imported once. */
function derivedKey(piiKey: Buffer, label: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', piiKey, Buffer.alloc(0), label, 32)));
}

function digestUnder(lineKey: KeyObject, line: string): string {
  return createHmac('sha256', lineKey).update(Buffer.from(line, 'utf16le')).digest('base64url');
}

function macOf(key: KeyObject, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}

function sameDetector(a: AttestedDetector, b: AttestedDetector): boolean {
  return a.name === b.name && a.fingerprint === b.fingerprint;
}

/** Flat [start, end, start, end, ...] offsets as spans: integers, ascending, non-empty, non-overlapping. */
function spansOf(offsets: unknown): AttestedSpan[] | undefined {
  if (!Array.isArray(offsets) || offsets.length % 2 !== 0) return undefined;
  const spans: AttestedSpan[] = [];
  let last = 0;
  for (let i = 0; i < offsets.length; i += 2) {
    const start: unknown = offsets[i];
    const end: unknown = offsets[i + 1];
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
    const [s, e] = [start as number, end as number];
    if (s < last || e <= s) return undefined;
    spans.push({ start: s, end: e });
    last = e;
  }
  return spans;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
