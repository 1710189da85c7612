import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OidcTokenVerifier } from './jwt-verifier';
import type { OidcSettings } from './oidc-claims';
import { AuthenticationError, IdentityProviderUnavailableError } from './principal';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { exportJWK, generateKeyPair, SignJWT } = require('jose') as typeof Jose;

const ISSUER = 'https://idp.example.test';

function settings(jwksUrl: string): OidcSettings {
  return {
    issuer: ISSUER,
    audiences: ['llmbus', 'llmbus-console'],
    jwksUrl,
    algorithms: ['ES256'],
    clockToleranceSeconds: 30,
    tenantClaim: 'tenant',
    rolesClaim: 'roles',
    groupsClaim: 'groups',
  };
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, server };
}

describe('OidcTokenVerifier', () => {
  let privateKey: Jose.CryptoKey;
  let jwks: { url: string; server: Server };

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'es', alg: 'ES256' };
    jwks = await listen((_, res) => res.writeHead(200).end(JSON.stringify({ keys: [jwk] })));
  });
  afterAll(() => new Promise((resolve) => jwks.server.close(resolve)));

  function sign(alg = 'ES256', key: Jose.CryptoKey | Uint8Array = privateKey): Promise<string> {
    return new SignJWT({ tenant: 'acme', roles: ['reviewer'], groups: ['legal'] })
      .setProtectedHeader({ alg, kid: 'es' })
      .setIssuer(ISSUER)
      .setAudience('llmbus-console')
      .setSubject('attorney-7')
      .setExpirationTime('5m')
      .sign(key);
  }

  it('verifies a token against the key set and maps its claims (any configured audience)', async () => {
    const principal = await new OidcTokenVerifier(settings(jwks.url)).verify(await sign());
    expect(principal).toMatchObject({ id: 'attorney-7', kind: 'jwt', tenantId: 'acme', groups: ['legal'] });
    expect([...principal.roles]).toEqual(['reviewer']);
  });

  it('refuses an algorithm outside the allowed list (an HS256 token keyed with public material)', async () => {
    const token = await sign('HS256', new TextEncoder().encode('a-shared-secret-of-32-bytes-long'));
    await expect(new OidcTokenVerifier(settings(jwks.url)).verify(token)).rejects.toThrow(
      AuthenticationError,
    );
    await expect(new OidcTokenVerifier(settings(jwks.url)).verify(token)).rejects.toThrow(
      /accepted algorithm/,
    );
  });

  it('reports an unreachable or broken key set as the provider being unavailable, not the token invalid', async () => {
    const broken = await listen((_, res) => res.writeHead(500).end('oops'));
    try {
      const token = await sign();
      await expect(new OidcTokenVerifier(settings(broken.url)).verify(token)).rejects.toThrow(
        IdentityProviderUnavailableError,
      );
      broken.server.closeAllConnections();
      await new Promise((resolve) => broken.server.close(resolve));
      await expect(new OidcTokenVerifier(settings(broken.url)).verify(token)).rejects.toThrow(
        /signing keys could not be loaded/,
      );
    } finally {
      if (broken.server.listening) broken.server.close();
    }
  });
});
