import type { ApiKeyRegistry } from './api-keys';
import type { BearerTokenVerifier } from './jwt-verifier';
import { AuthenticationError, Principal } from './principal';

/** The credentials of one HTTP request, as sent. */
export interface PresentedCredentials {
  /** The `X-Api-Key` header. */
  readonly apiKey?: string;
  /** The token of an `Authorization: Bearer <token>` header. */
  readonly bearer?: string;
}

/** Compact JWS serialisation: three base64url parts (the signature is empty for `alg: none`). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Says who sent a request: an API key (`X-Api-Key`, or as a bearer token), or a bearer JWT
 * verified against the identity provider when one is configured. Never logs or echoes a credential.
 */
export class Authenticator {
  constructor(
    private readonly apiKeys: ApiKeyRegistry,
    private readonly tokens?: BearerTokenVerifier,
  ) {}

  /** Whether bearer JWTs are accepted (OIDC configured). */
  get acceptsTokens(): boolean {
    return this.tokens !== undefined;
  }

  /**
   * The principal of the presented credentials. `X-Api-Key` wins over `Authorization`. Throws
   * AuthenticationError when they are missing or not valid, IdentityProviderUnavailableError when
   * a token cannot be checked right now.
   */
  async authenticate(credentials: PresentedCredentials): Promise<Principal> {
    const { apiKey, bearer } = credentials;
    if (apiKey !== undefined) {
      const principal = this.apiKeys.authenticate(apiKey);
      if (!principal) throw new AuthenticationError('invalid_api_key', 'the API key is not known');
      return principal;
    }
    if (bearer === undefined) {
      throw new AuthenticationError(
        'missing_credentials',
        `no credentials: send "X-Api-Key: <key>" or "Authorization: Bearer <key${this.tokens ? ' or token' : ''}>"`,
      );
    }
    const principal = this.apiKeys.authenticate(bearer);
    if (principal) return principal;
    if (!JWT_SHAPE.test(bearer)) throw new AuthenticationError('invalid_api_key', 'the API key is not known');
    if (!this.tokens) {
      throw new AuthenticationError(
        'invalid_token',
        'bearer JWTs are not accepted by this service (no identity provider is configured); use an API key',
      );
    }
    return this.tokens.verify(bearer);
  }
}
