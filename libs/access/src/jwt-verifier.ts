import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import { OidcSettings, principalFromClaims } from './oidc-claims';
import { AuthenticationError, IdentityProviderUnavailableError, Principal } from './principal';

// jose is ESM-only; Node 24 loads it with require(esm) (Jest compiles it to CommonJS, see
// jest.config.js), which keeps this library CommonJS like the rest of the workspace.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jose = require('jose') as typeof Jose;

/** Checks a bearer token and says whose it is. */
export interface BearerTokenVerifier {
  /**
   * The principal of a valid token. Throws AuthenticationError when the token is not valid here,
   * IdentityProviderUnavailableError when it cannot be checked right now.
   */
  verify(token: string): Promise<Principal>;
}

/** jose error codes that mean "this token is not valid here" (HTTP 401), with what to tell the caller. */
const TOKEN_FAULTS: Readonly<Record<string, string>> = {
  ERR_JWT_EXPIRED: 'the token has expired',
  ERR_JOSE_ALG_NOT_ALLOWED: 'the token is not signed with an accepted algorithm',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'the token signature is not valid',
  ERR_JWS_INVALID: 'the token is not a well-formed signed JWT',
  ERR_JWT_INVALID: 'the token is not a well-formed JWT',
  ERR_JOSE_NOT_SUPPORTED: 'the token uses a JOSE feature that is not supported',
  ERR_JWKS_NO_MATCHING_KEY: "no key of the issuer's key set matches the token",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "several keys of the issuer's key set match the token; it needs a kid",
};

/**
 * Verifies OIDC access or ID tokens (JWTs) with jose against the issuer's JWKS: signature with
 * one of the configured asymmetric algorithms, `iss`, `aud`, `exp` (required) and `nbf` within the
 * clock tolerance, then maps the claims to a principal (see principalFromClaims). The key set is
 * fetched on first use, cached, and re-fetched (at most every 30 s) when a token names an unknown
 * key, so key rotation needs no restart. Specs: RFC 7519 (JWT), RFC 7517 (JWKS), OIDC Core 1.0.
 */
export class OidcTokenVerifier implements BearerTokenVerifier {
  private readonly keys: ReturnType<typeof jose.createRemoteJWKSet>;

  constructor(private readonly settings: OidcSettings) {
    this.keys = jose.createRemoteJWKSet(new URL(settings.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  async verify(token: string): Promise<Principal> {
    let payload: Jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: [...this.settings.audiences],
        algorithms: [...this.settings.algorithms],
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw classify(error);
    }
    return principalFromClaims(payload, this.settings);
  }
}

function classify(error: unknown): Error {
  if (error instanceof jose.errors.JWTClaimValidationFailed) {
    // Names the claim and why, never its value or the expected one.
    return new AuthenticationError(
      'invalid_token',
      `the token's "${error.claim}" claim is ${error.reason === 'missing' ? 'missing' : 'not accepted by this service'}`,
    );
  }
  if (error instanceof jose.errors.JOSEError && Object.hasOwn(TOKEN_FAULTS, error.code)) {
    return new AuthenticationError('invalid_token', TOKEN_FAULTS[error.code]);
  }
  // Timeouts, unreachable or malformed key sets: the token may be fine, the provider is not.
  return new IdentityProviderUnavailableError(
    `the identity provider's signing keys could not be loaded (${error instanceof jose.errors.JOSEError ? error.code : 'fetch failed'}); try again later`,
    { cause: error },
  );
}
