import { isIP } from 'node:net';
import { PatternRecogniser } from './pattern-recogniser';

/** Known key formats: prefix and body as their issuers document them. */
const KEY_FORMATS = [
  /sk-(?:proj-|ant-api\d\d-|live_|test_)?[A-Za-z0-9_-]{20,}/, // OpenAI, Anthropic, Stripe secret
  /[rp]k_(?:live|test)_[A-Za-z0-9]{16,}/, // Stripe restricted / publishable
  /gh[pousr]_[A-Za-z0-9]{36}/, // GitHub
  /glpat-[A-Za-z0-9_-]{20}/, // GitLab
  /xox[abpors]-[A-Za-z0-9-]{10,}/, // Slack
  /(?:AKIA|ASIA)[A-Z0-9]{16}/, // AWS access key id
  /AIza[A-Za-z0-9_-]{35}/, // Google API key
  /SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/, // SendGrid
  /SK[0-9a-f]{32}/, // Twilio
  /npm_[A-Za-z0-9]{36}/, // npm
  /hvs\.[A-Za-z0-9_-]{24,}/, // HashiCorp Vault
];
const KNOWN_KEY = new RegExp(
  `(?<![A-Za-z0-9_-])(?:${KEY_FORMATS.map((r) => r.source).join('|')})(?![A-Za-z0-9_-])`,
  'g',
);

/** A token-like string after a key/secret cue: mixed letters and digits, 16+ characters. */
const CUED_SECRET =
  /(?<![A-Za-z0-9])(?:api[_ -]?key|secret(?:[_ ]access)?(?:[_ ]key)?|access[_ ]key|token|password|passwd|key)\b["']?\s*(?:[:=]|is)?\s*["']?(?<value>[A-Za-z0-9_./+-]{16,})/gi;

const BEARER = /\bbearer\s+(?<value>[A-Za-z0-9\-._~+/]{16,}=*)/gi;

const hasLetterAndDigit = (value: string) => /[A-Za-z]/.test(value) && /\d/.test(value);

/**
 * Loopback (127.0.0.0/8, ::1) and unspecified (0.0.0.0, ::) addresses name no person's machine:
 * they are the host itself. Left unmasked, so a service's own URL ("listening on 127.0.0.1:8080")
 * and a refused local connection stay readable in logs (RFC 1122 §3.2.1.3, RFC 4291 §2.5.2-3).
 */
function isMachineLocal(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '0.0.0.0') return true;
  const v6 = ip.toLowerCase();
  return v6 === '::1' || v6 === '::' || /^(?:0{1,4}:){7}0{0,3}1$/.test(v6);
}

/**
 * IPv4 and IPv6 addresses (candidates confirmed by node:net's parser), API keys in the formats
 * their issuers document plus long mixed tokens after a key/secret cue, and bearer tokens (the
 * credential after "Bearer"). Loopback and unspecified addresses are not masked (isMachineLocal).
 */
export function networkAndSecretsRecogniser(): PatternRecogniser {
  return new PatternRecogniser('network-and-secrets', [
    {
      type: 'IP_ADDRESS',
      pattern: /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)/g,
      score: 0.9,
      accept: (value) => isIP(value) === 4 && !isMachineLocal(value),
    },
    {
      type: 'IP_ADDRESS',
      pattern: /(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?![\w:])/gi,
      score: 0.9,
      accept: (value) => isIP(value) === 6 && !isMachineLocal(value),
    },
    { type: 'API_KEY', pattern: KNOWN_KEY, score: 0.95 },
    {
      type: 'API_KEY',
      pattern: CUED_SECRET,
      score: 0.7,
      accept: (value) => hasLetterAndDigit(value) && !/^[0-9a-f]{64}$/i.test(value),
    },
    { type: 'BEARER_TOKEN', pattern: BEARER, score: 0.97, accept: hasLetterAndDigit },
  ]);
}
