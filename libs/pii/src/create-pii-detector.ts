import { CompositePiiDetector } from './composite-detector';
import { CompromisePersonDetector } from './compromise-person-detector';
import { OpenRedactionDetector } from './openredaction-detector';
import { PhoneNumberDetector } from './phone-detector';
import type { PiiDetector } from './pii-detector';
import { datesAndAddressesRecogniser } from './recognisers/dates-and-addresses';
import { financialRecogniser } from './recognisers/financial';
import { nationalIdRecogniser } from './recognisers/national-ids';
import { networkAndSecretsRecogniser } from './recognisers/network-and-secrets';
import { personCueRecogniser } from './recognisers/person-cues';

/**
 * The platform's detector, chosen by `npm run eval:pii`: OpenRedaction for e-mail, SSN, the
 * Spanish DNI, API keys and bearer tokens; compromise for person names; libphonenumber-js for
 * phone numbers; our checksum- and cue-based recognisers where the libraries measured low
 * (IBANs with spaces, cards, UK NI, IPs, dates of birth, addresses, bank accounts). Every
 * detector built here shares the process's compromise line cache (the costliest recogniser).
 */
export function createPiiDetector(): PiiDetector {
  return new CompositePiiDetector([
    new OpenRedactionDetector(['EMAIL', 'US_SSN', 'EU_NATIONAL_ID', 'API_KEY', 'BEARER_TOKEN']),
    CompromisePersonDetector.processWide(),
    personCueRecogniser(),
    new PhoneNumberDetector(),
    financialRecogniser(),
    nationalIdRecogniser(),
    networkAndSecretsRecogniser(),
    datesAndAddressesRecogniser(),
  ]);
}
