import { OpenRedaction } from '@openredaction/openredaction';
import { resolveOverlaps } from './composite-detector';
import { spanOf, type PiiDetector, type PiiEntityType, type PiiSpan } from './pii-detector';

/** OpenRedaction pattern types and the entity type each one detects. */
export const OPENREDACTION_TYPES: Readonly<Record<string, PiiEntityType>> = {
  NAME: 'PERSON',
  EMAIL: 'EMAIL',
  PHONE_US: 'PHONE',
  PHONE_UK: 'PHONE',
  PHONE_UK_MOBILE: 'PHONE',
  PHONE_INTERNATIONAL: 'PHONE',
  ADDRESS_STREET: 'POSTAL_ADDRESS',
  ADDRESS_PO_BOX: 'POSTAL_ADDRESS',
  POSTCODE_UK: 'POSTAL_ADDRESS',
  IBAN: 'IBAN',
  UK_BANK_ACCOUNT_IBAN: 'IBAN',
  BANK_ACCOUNT_UK: 'BANK_ACCOUNT',
  UK_SORT_CODE_ACCOUNT: 'BANK_ACCOUNT',
  CREDIT_CARD: 'PAYMENT_CARD',
  SSN: 'US_SSN',
  NATIONAL_INSURANCE_UK: 'UK_NI',
  SPANISH_DNI: 'EU_NATIONAL_ID',
  IPV4: 'IP_ADDRESS',
  IPV6: 'IP_ADDRESS',
  AWS_ACCESS_KEY: 'API_KEY',
  AWS_SECRET_KEY: 'API_KEY',
  GOOGLE_API_KEY: 'API_KEY',
  STRIPE_API_KEY: 'API_KEY',
  GITHUB_TOKEN: 'API_KEY',
  SLACK_TOKEN: 'API_KEY',
  NPM_TOKEN: 'API_KEY',
  SENDGRID_API_KEY: 'API_KEY',
  TWILIO_API_KEY: 'API_KEY',
  GENERIC_API_KEY: 'API_KEY',
  GENERIC_SECRET: 'API_KEY',
  BEARER_TOKEN: 'BEARER_TOKEN',
  JWT_TOKEN: 'BEARER_TOKEN',
  OAUTH_TOKEN: 'BEARER_TOKEN',
  DATE_OF_BIRTH: 'DATE_OF_BIRTH',
};

/**
 * The OpenRedaction pattern library (558+ regular expressions with checksum validators and
 * context scoring), restricted to the patterns that map to our entity types. Learning is off: by
 * default the library reads and writes `.openredaction/learnings.json` in the working directory
 * and would silently whitelist values from it.
 */
export class OpenRedactionDetector implements PiiDetector {
  readonly name = 'openredaction';
  private readonly engine: OpenRedaction;

  constructor(types: readonly PiiEntityType[] = [...new Set(Object.values(OPENREDACTION_TYPES))]) {
    const patterns = Object.entries(OPENREDACTION_TYPES)
      .filter(([, type]) => types.includes(type))
      .map(([pattern]) => pattern);
    this.engine = new OpenRedaction({ patterns, enableLearning: false, deterministic: true });
  }

  /** Spans of the mapped patterns, with the library's confidence as score. */
  detect(text: string): PiiSpan[] {
    const spans: PiiSpan[] = [];
    for (const found of this.engine.detect(text).detections) {
      const type = OPENREDACTION_TYPES[found.type];
      const [start, end] = found.position;
      if (type !== undefined) spans.push(spanOf(text, type, start, end, found.confidence ?? 0.5));
    }
    return resolveOverlaps(spans);
  }
}
