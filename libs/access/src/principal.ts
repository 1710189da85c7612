/** What a caller may do on the HTTP surfaces. */
export const ROLES = ['submitter', 'reader', 'reviewer', 'pii-reader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** How a principal proved who it is. */
export type CredentialKind = 'api_key' | 'jwt';

/**
 * An authenticated caller: one tenant, some roles, the groups it may act for. Everything here
 * comes from the credential (the API_KEYS entry or the verified token), never from a request body.
 */
export interface Principal {
  /**
   * Who, for logs, audit, reviewers and `requester.userId`: an API key's configured name (else a
   * fingerprint of its digest, `apikey-<12 hex>`) or a token's `sub`. Never the credential, nor
   * any part of it.
   */
  readonly id: string;
  readonly kind: CredentialKind;
  readonly tenantId: string;
  readonly roles: ReadonlySet<Role>;
  /** Permission groups the principal may act for; a request may name any subset of them. */
  readonly groups: readonly string[];
}

/** True when the principal holds the role (admin holds every role). */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.has(role) || principal.roles.has('admin');
}

/** True for a known role name. */
export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * The credential presented is missing, unknown, malformed, expired or not issued for this
 * service (HTTP 401). The message says what is wrong without echoing the credential.
 */
export class AuthenticationError extends Error {
  constructor(
    readonly code: 'missing_credentials' | 'invalid_api_key' | 'invalid_token',
    message: string,
  ) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

/**
 * A token could not be checked because the identity provider's key set is unreachable or
 * unusable (HTTP 503): the caller may retry; the operator checks OIDC_JWKS_URL.
 */
export class IdentityProviderUnavailableError extends Error {
  readonly code = 'identity_provider_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityProviderUnavailableError';
  }
}
