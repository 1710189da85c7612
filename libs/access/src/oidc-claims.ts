import { TENANT_PATTERN } from '@llmbus/contracts';
import { AuthenticationError, isRole, Principal, Role } from './principal';

/** JWS algorithms a bearer token may be signed with: asymmetric only (no HS*, never `none`). */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

/** Names of the token claims that carry tenant, roles and groups. */
export interface ClaimMapping {
  /** Claim holding the tenant id (a string matching the tenant pattern). */
  readonly tenantClaim: string;
  /** Claim holding llmbus roles: an array of strings or one space-separated string. */
  readonly rolesClaim: string;
  /** Claim holding permission groups: an array of strings. */
  readonly groupsClaim: string;
}

/** How bearer JWTs are verified (from the OIDC_* variables). */
export interface OidcSettings extends ClaimMapping {
  /** Expected `iss`, exactly. */
  readonly issuer: string;
  /** Accepted `aud` values; the token must name at least one. */
  readonly audiences: readonly string[];
  /** Where the issuer publishes its signing keys (JWKS). */
  readonly jwksUrl: string;
  readonly algorithms: readonly OidcAlgorithm[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in seconds. */
  readonly clockToleranceSeconds: number;
}

/** Most groups a token may carry (a request carries at most 100 of them). */
export const MAX_TOKEN_GROUPS = 1000;
const MAX_NAME_LENGTH = 200;

/**
 * A claim by name; when no claim has that exact name and it contains dots, the dotted path into
 * nested objects (Keycloak's `realm_access.roles`). Exact names come first so namespaced claims
 * such as `https://example.com/roles` keep working.
 */
export function claimValue(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes('.')) return undefined;
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function invalid(message: string): AuthenticationError {
  return new AuthenticationError('invalid_token', message);
}

function stringList(value: unknown, claim: string, what: string): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' && what === 'roles' ? value.split(/\s+/).filter(Boolean) : value;
  if (
    !Array.isArray(list) ||
    list.length > MAX_TOKEN_GROUPS ||
    list.some((v) => typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME_LENGTH)
  ) {
    throw invalid(
      `the token's "${claim}" claim (${what}) must be an array of at most ${MAX_TOKEN_GROUPS} strings of 1-${MAX_NAME_LENGTH} characters`,
    );
  }
  return list as string[];
}

/**
 * Maps the claims of a verified token to a principal: `sub` is its id, the tenant, roles and
 * groups come from the configured claims. Roles llmbus does not know (an identity provider's
 * `offline_access`...) are ignored. Throws AuthenticationError (never echoing claim values) when
 * `sub` or the tenant is missing or malformed, or a list claim is not a list of strings.
 */
export function principalFromClaims(
  claims: Readonly<Record<string, unknown>>,
  mapping: ClaimMapping,
): Principal {
  const sub = claims['sub'];
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_NAME_LENGTH) {
    throw invalid(`the token's "sub" claim must be a string of 1-${MAX_NAME_LENGTH} characters`);
  }
  const tenant = claimValue(claims, mapping.tenantClaim);
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
    throw invalid(
      `the token's "${mapping.tenantClaim}" claim (tenant) must be 1-63 lowercase letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  const roles = stringList(claimValue(claims, mapping.rolesClaim), mapping.rolesClaim, 'roles').filter(
    isRole,
  );
  const groups = stringList(claimValue(claims, mapping.groupsClaim), mapping.groupsClaim, 'groups');
  return {
    id: sub,
    kind: 'jwt',
    tenantId: tenant,
    roles: new Set<Role>(roles),
    groups: [...new Set(groups)],
  };
}
