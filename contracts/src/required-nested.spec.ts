import 'reflect-metadata';
import { RequestRoutedEvent } from './events/request-routed';
import { RequestSubmittedEvent } from './events/request-submitted';
import { samplePayloads } from './testing/sample-payloads';
import { validatePayload } from './validation';

// A required nested object left out (a RequestSubmitted without `requester` produced to Kafka) was
// refused by the JSON Schema but accepted by the decorators, which decide where the two differ: the
// router routed it without a requester, and the retriever then failed on `context.requester.groups`
// with a TypeError, retried as a transient fault through every retry round before a dead letter
// saying "Cannot read properties of undefined". The payload is now refused at the consumer edge,
// naming the field (invalid_payload, dead letter and RequestFailed at once, never retried).
describe('required nested objects', () => {
  it('refuses a RequestSubmitted without requester, naming it', () => {
    const payload: Record<string, unknown> = { ...samplePayloads().RequestSubmitted };
    delete payload['requester'];
    const result = validatePayload(RequestSubmittedEvent, payload);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([expect.stringMatching(/^requester: /)]);
  });

  it('refuses a RequestRouted without context, and one whose context has no requester', () => {
    const sample = samplePayloads().RequestRouted as unknown as Record<string, unknown>;
    const withoutContext: Record<string, unknown> = { ...sample };
    delete withoutContext['context'];
    const noContext = validatePayload(RequestRoutedEvent, withoutContext);
    expect(noContext.ok ? [] : noContext.errors).toEqual([expect.stringMatching(/^context: /)]);

    const context: Record<string, unknown> = { ...(sample['context'] as Record<string, unknown>) };
    delete context['requester'];
    const noRequester = validatePayload(RequestRoutedEvent, { ...sample, context });
    expect(noRequester.ok ? [] : noRequester.errors).toEqual([
      expect.stringMatching(/^context\.requester: /),
    ]);
  });

  it('still accepts the complete payloads', () => {
    expect(validatePayload(RequestSubmittedEvent, samplePayloads().RequestSubmitted).ok).toBe(true);
    expect(validatePayload(RequestRoutedEvent, samplePayloads().RequestRouted).ok).toBe(true);
  });
});
