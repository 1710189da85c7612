import { LRUCache } from 'lru-cache';
import { createPiiDetector } from './create-pii-detector';
import type { PiiDetector } from './pii-detector';
import { PiiMasker } from './pii-masker';
import { resolvePiiPolicy } from './pii-policy';
import { PiiVault } from './pii-vault';

const REDACT_ALL = resolvePiiPolicy({ prompts: { default: 'redact' } }).prompts;

/**
 * A function that redacts every detected entity of a log text (`[EMAIL redacted]`). Logs never
 * carry PII whatever a workflow allows elsewhere, so there is no policy to consult. Results are
 * cached per distinct text: most log messages are constants, and detection costs milliseconds.
 */
export function piiLogScrubber(detector: PiiDetector = createPiiDetector()): (text: string) => string {
  const masker = new PiiMasker(detector);
  const cache = new LRUCache<string, string>({ max: 2000 });
  return (text) => {
    if (text.length < 6) return text;
    let scrubbed = cache.get(text);
    if (scrubbed === undefined) {
      scrubbed = masker.maskText(text, REDACT_ALL, new PiiVault());
      cache.set(text, scrubbed);
    }
    return scrubbed;
  };
}
