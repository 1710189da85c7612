import {
  OIDC_ALGORITHMS,
  OidcAlgorithm,
  OidcSettings,
  TrustedSources,
  TrustedSourcesConfigError,
} from '@llmbus/access';
import { ConfigError, Env, optional, str } from './env';

/** The OIDC_* variables; any of them set without OIDC_ISSUER is a mistake worth stopping for. */
export const OIDC_VARIABLES = [
  'OIDC_ISSUER',
  'OIDC_AUDIENCE',
  'OIDC_JWKS_URL',
  'OIDC_ALGORITHMS',
  'OIDC_TENANT_CLAIM',
  'OIDC_ROLES_CLAIM',
  'OIDC_GROUPS_CLAIM',
] as const;

const CLOCK_TOLERANCE_SECONDS = 30;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function list(env: Env, name: string, expected: string, fallback?: string): string[] {
  const raw = optional(env, name) ?? fallback;
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new ConfigError(name, expected, raw);
  return items;
}

function claimName(env: Env, name: string, fallback: string): string {
  const raw = str(env, name, fallback);
  if (!/^\S{1,200}$/.test(raw)) {
    throw new ConfigError(name, 'a claim name (or dotted path, e.g. realm_access.roles) without spaces', raw);
  }
  return raw;
}

/** The key set must not be tampered with in transit: https, or http on this machine only. */
function jwksUrl(env: Env): string {
  const name = 'OIDC_JWKS_URL';
  const raw = optional(env, name);
  const expected = "an https:// URL of the issuer's JSON Web Key Set (http:// only on localhost)";
  let parsed: URL;
  try {
    parsed = new URL(raw ?? '');
  } catch {
    throw new ConfigError(name, expected, raw);
  }
  const secure =
    parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname));
  if (!secure) throw new ConfigError(name, expected, raw);
  return parsed.href;
}

/**
 * Bearer JWT verification settings from OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL (all three
 * required together), OIDC_ALGORITHMS (default RS256,ES256; asymmetric only) and the claim names
 * OIDC_TENANT_CLAIM, OIDC_ROLES_CLAIM, OIDC_GROUPS_CLAIM (defaults tenant, roles, groups).
 * Undefined when no OIDC_* variable is set. Throws ConfigError naming the variable.
 */
export function loadOidcSettings(env: Env): OidcSettings | undefined {
  const issuer = optional(env, 'OIDC_ISSUER');
  if (issuer === undefined) {
    const stray = OIDC_VARIABLES.find((name) => optional(env, name) !== undefined);
    if (stray) {
      throw new ConfigError(
        'OIDC_ISSUER',
        `the token issuer (the exact "iss" of accepted tokens) since ${stray} is set`,
        undefined,
      );
    }
    return undefined;
  }
  const algorithmsExpected = `a comma-separated list of ${OIDC_ALGORITHMS.join(', ')} (asymmetric algorithms only)`;
  const algorithms = list(env, 'OIDC_ALGORITHMS', algorithmsExpected, 'RS256,ES256');
  if (algorithms.some((a) => !(OIDC_ALGORITHMS as readonly string[]).includes(a))) {
    throw new ConfigError('OIDC_ALGORITHMS', algorithmsExpected, algorithms.join(','));
  }
  return {
    issuer,
    audiences: list(
      env,
      'OIDC_AUDIENCE',
      'the audience(s) accepted tokens must name in "aud", comma-separated',
    ),
    jwksUrl: jwksUrl(env),
    algorithms: algorithms as OidcAlgorithm[],
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    tenantClaim: claimName(env, 'OIDC_TENANT_CLAIM', 'tenant'),
    rolesClaim: claimName(env, 'OIDC_ROLES_CLAIM', 'roles'),
    groupsClaim: claimName(env, 'OIDC_GROUPS_CLAIM', 'groups'),
  };
}

/** LLMBUS_TRUSTED_SOURCES: which CloudEvents source may assert which tenants; undefined when unset. */
export function loadTrustedSources(env: Env): TrustedSources | undefined {
  const name = 'LLMBUS_TRUSTED_SOURCES';
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  try {
    return TrustedSources.parse(raw);
  } catch (error) {
    if (error instanceof TrustedSourcesConfigError) {
      throw new ConfigError(
        name,
        `<source>=<tenant>|<tenant>... entries separated by "," (e.g. /helpdesk=acme|globex,/alerts=acme; "*" for every tenant): ${error.message}`,
        raw,
      );
    }
    throw error;
  }
}
