import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestSubmittedEvent, ResponseGeneratedEvent, type EventEnvelope } from '@llmbus/contracts';
import type { AuditStoreFixture } from './audit-store.conformance';
import { AuditDataError } from './record-errors';

const HIGH = '\uD83D';
let offsets = 0;
const position = () => ({ topic: 'orchestration.request.v1', partition: 0, offset: String(++offsets) });

function event(
  tenantid: string,
  requestId: string,
  data: Record<string, unknown>,
  type = RequestSubmittedEvent.type,
): EventEnvelope<Record<string, unknown>> {
  return {
    id: randomUUID(),
    source: '/upstream',
    type,
    specversion: '1.0',
    time: new Date().toISOString(),
    correlationid: requestId,
    tenantid,
    schemaversion: 1,
    data: { requestId, ...data },
  };
}

/**
 * What every AuditStore adapter does with an event PostgreSQL refuses for good (U+0000, a lone
 * surrogate, a number out of range): record a storable copy, marked, and keep recording.
 */
export function describeUnstorableEventConformance(
  name: string,
  open: () => Promise<AuditStoreFixture>,
  timeoutMs = 60_000,
): void {
  describe(`${name} with events the database refuses as received`, () => {
    let fixture: AuditStoreFixture;
    const tenant = `u-${randomUUID().slice(0, 8)}`;
    beforeAll(async () => {
      fixture = await open();
    }, timeoutMs);
    afterAll(async () => {
      await fixture?.close();
    }, timeoutMs);

    it('records an event holding U+0000 and a lone surrogate as a sanitised copy, marked, then records the next event', async () => {
      const { store } = fixture;
      const bad = event(tenant, 'nul-1', {
        input: { subject: 'printer\u0000on fire', body: `${'\u{1F600}'.repeat(3)}${HIGH}`, ['k\u0000']: 1 },
      });
      const reasons: string[] = [];
      await expect(
        store.record(bad, position(), { onSanitised: (reason) => reasons.push(reason) }),
      ).resolves.toBe(true);
      expect(reasons).toEqual([expect.stringMatching(/^22P05: unsupported Unicode escape sequence/)]);

      const [stored] = await store.trail(tenant, 'nul-1');
      expect(stored.envelope.id).toBe(bad.id);
      expect(stored.sanitisedReason).toMatch(/^22P05: /);
      expect(stored.envelope.data).toEqual({
        requestId: 'nul-1',
        input: { subject: 'printer\uFFFDon fire', body: `${'\u{1F600}'.repeat(3)}\uFFFD`, ['k\uFFFD']: 1 },
      });

      const next = event(tenant, 'nul-1', { input: { subject: 'later' } });
      await expect(store.record(next, position())).resolves.toBe(true);
      const trail = await store.trail(tenant, 'nul-1');
      expect(trail.map((r) => r.envelope.id)).toEqual([bad.id, next.id]);
      expect(trail[1].sanitisedReason).toBeUndefined();
      const { rows } = await fixture.raw(
        `SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = '${tenant}' AND sanitised_reason IS NOT NULL`,
      );
      expect(rows[0]['n']).toBe(1);
    });

    it('records a lone surrogate alone (jsonb refuses its escape, 22P02) the same way', async () => {
      const bad = event(tenant, 'lone-1', { input: { query: `cut here ${HIGH}` } });
      await expect(fixture.store.record(bad, position())).resolves.toBe(true);
      const [stored] = await fixture.store.trail(tenant, 'lone-1');
      expect(stored.sanitisedReason).toMatch(/^22P02: /);
      expect(stored.envelope.data['input']).toEqual({ query: 'cut here \uFFFD' });
    });

    it('stores U+0000 in an attribute (a text column, 22021) as U+FFFD', async () => {
      const bad = { ...event(tenant, 'attr-1', {}), subject: 'ticket\u00009' };
      await expect(fixture.store.record(bad, position())).resolves.toBe(true);
      const [stored] = await fixture.store.trail(tenant, 'attr-1');
      expect(stored.envelope.subject).toBe('ticket\uFFFD9');
      expect(stored.sanitisedReason).toMatch(/^22021: /);
    });

    it('keeps a usage number that overflows its column in the payload and leaves the column empty', async () => {
      const usage = {
        modelId: 'm',
        provider: 'p',
        promptTokens: 3e9,
        completionTokens: 1,
        costUsd: 1,
        latencyMs: 5,
      };
      const bad = {
        ...event(tenant, 'big-1', { usage }, ResponseGeneratedEvent.type),
        source: '/llmbus/generator',
      };
      await expect(fixture.store.record(bad, position())).resolves.toBe(true);
      const [stored] = await fixture.store.trail(tenant, 'big-1');
      expect(stored.sanitisedReason).toMatch(/^22003: /);
      expect(stored.envelope.data['usage']).toEqual(usage);
      const { rows } = await fixture.raw(
        `SELECT prompt_tokens, completion_tokens FROM audit_events WHERE event_id = '${bad.id}'`,
      );
      expect(rows[0]).toEqual({ prompt_tokens: null, completion_tokens: 1 });
    });

    it('is idempotent: the same refused event again is a duplicate, stored once', async () => {
      const bad = event(tenant, 'dup-nul-1', { input: { subject: '\u0000' } });
      expect(await fixture.store.record(bad, position())).toBe(true);
      expect(await fixture.store.record(bad, position())).toBe(false);
      expect(await fixture.store.trail(tenant, 'dup-nul-1')).toHaveLength(1);
    });

    it('throws AuditDataError, not a retryable error, when even the storable copy is refused', async () => {
      // Year 0 is no date PostgreSQL accepts (22008); sanitising text cannot fix it.
      const bad = { ...event(tenant, 'time-1', {}), time: '0000-01-01T00:00:00Z' };
      const error = await fixture.store.record(bad, position()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AuditDataError);
      expect(error).toMatchObject({ code: 'unstorable_event', sqlState: '22008', eventId: bad.id });
      await expect(fixture.store.record(event(tenant, 'time-1', {}), position())).resolves.toBe(true);
    });

    it('finds nothing for a request id holding U+0000 (trail, review, status), instead of failing the query', async () => {
      await expect(fixture.store.trail(tenant, 'nul-1\u0000')).resolves.toEqual([]);
      await expect(fixture.store.reviewState(tenant, '\u0000')).resolves.toEqual({
        status: 'unknown_request',
      });
      await expect(fixture.store.requestStatus(tenant, 'nul-1\u0000')).resolves.toBeUndefined();
    });
  });
}
