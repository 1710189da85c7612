import { ApiKeyRegistry } from './api-keys';
import { Authenticator } from './authenticator';
import type { BearerTokenVerifier } from './jwt-verifier';
import { AuthenticationError, Principal } from './principal';

const keys = ApiKeyRegistry.parse('key-acme-0123456789:acme:reader:hr');
const jwtPrincipal: Principal = { id: 'u', kind: 'jwt', tenantId: 'acme', roles: new Set(), groups: [] };
const verifier: BearerTokenVerifier & { seen: string[] } = {
  seen: [],
  async verify(token) {
    this.seen.push(token);
    return jwtPrincipal;
  },
};
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';

async function refusal(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AuthenticationError) return error;
    throw error;
  }
  throw new Error('expected an AuthenticationError');
}

describe('Authenticator', () => {
  beforeEach(() => (verifier.seen = []));

  it('accepts an API key as X-Api-Key or bearer, and sends only JWT-shaped bearers to the verifier', async () => {
    const auth = new Authenticator(keys, verifier);
    expect((await auth.authenticate({ apiKey: 'key-acme-0123456789' })).groups).toEqual(['hr']);
    expect((await auth.authenticate({ bearer: 'key-acme-0123456789' })).kind).toBe('api_key');
    expect(await auth.authenticate({ bearer: JWT })).toBe(jwtPrincipal);
    expect((await refusal(auth.authenticate({ bearer: 'not-a-key-not-a-jwt' }))).code).toBe(
      'invalid_api_key',
    );
    expect(verifier.seen).toEqual([JWT]);
  });

  it('lets X-Api-Key win over Authorization, so a bad key is not rescued by a token', async () => {
    const auth = new Authenticator(keys, verifier);
    expect((await refusal(auth.authenticate({ apiKey: 'wrong-key-0000000000', bearer: JWT }))).code).toBe(
      'invalid_api_key',
    );
    expect(verifier.seen).toEqual([]);
  });

  it('says what to send when nothing is sent, and that JWTs are off without OIDC', async () => {
    const auth = new Authenticator(keys);
    expect((await refusal(auth.authenticate({}))).code).toBe('missing_credentials');
    const off = await refusal(auth.authenticate({ bearer: JWT }));
    expect(off.message).toMatch(/bearer JWTs are not accepted by this service/);
  });
});
