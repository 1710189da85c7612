import { canonicalDigest, type RequestSubmitted } from '@llmbus/contracts';
import { Counter } from 'prom-client';

/**
 * Hex SHA-256 of a RequestSubmitted payload's RFC 8785 canonical JSON (canonicalDigest, as the
 * HTTP ingress digests its bodies), its `submissionDigest` left out: what tells a request re-sent
 * under a new event id from another request reusing its id. Computed by the router's consumer for
 * every request, whichever way it came (HTTP or straight to Kafka), so both share one rule.
 */
export function digestOfSubmission(request: RequestSubmitted): string {
  const plain = JSON.parse(JSON.stringify(request)) as Record<string, unknown>;
  delete plain['submissionDigest'];
  return canonicalDigest(plain);
}

/** The earlier routing of a request id: the event that was routed and its payload's digest. */
export interface EarlierRouting {
  /** `ce_id` of the RequestSubmitted that was routed. */
  readonly eventId: string;
  /** digestOfSubmission of that payload; undefined when its record does not say (routed before digests were kept). */
  readonly submissionDigest?: string;
}

/** Request ids the router's consumer saw again under a new event id, in the default registry. */
export const requestIdReuse = new Counter({
  name: 'orchestrator_request_id_reuse_total',
  help: 'RequestSubmitted events whose request id was already routed under another event id, by tenant and outcome (duplicate: same body, dropped; conflict: another body, dead-lettered).',
  labelNames: ['tenant', 'outcome'] as const,
});
