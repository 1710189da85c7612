import { ApiKeyRegistry, apiKeyFingerprint } from '@llmbus/access';
import { EventBus, InMemoryTransport } from '@llmbus/bus';
import type { StageApp } from '@llmbus/bus-nest';
import { loadPlatformConfig } from '@llmbus/config';
import {
  DeadLettered,
  DeadLetteredEvent,
  EventEnvelope,
  RequestFailed,
  RequestFailedEvent,
  RequestRoutedEvent,
  RequestSubmitted,
  RequestSubmittedEvent,
  Topics,
} from '@llmbus/contracts';
import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import request from 'supertest';
import { startRouter } from './index';
import { ScriptedModelProvider } from '@llmbus/models';

/** Bag-of-words vectors for the shipped workflows' classifier steps (support-ticket v2). */
const classifierModels = {
  embed: async (texts: readonly string[]) => (await new ScriptedModelProvider().embed(texts)).vectors,
};

// jose is ESM-only: loaded with require(esm) like the verifier does (jest compiles it to CommonJS).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { exportJWK, generateKeyPair, SignJWT } = require('jose') as typeof Jose;

const logger = pino({ level: 'silent' });
const ISSUER = 'https://idp.example.test/realms/acme';
const AUDIENCE = 'llmbus';
const KEYS = {
  helpdesk: 'acme-helpdesk-key-000001',
  noGroups: 'acme-nogroups-key-000001',
};
const apiKeys = ApiKeyRegistry.parse(
  `${KEYS.helpdesk}:acme:submitter+reader:support-staff|hr,${KEYS.noGroups}:acme:submitter`,
);
const ticket = { subject: 'Cannot log in', body: 'The reset mail never arrives.', priority: 'normal' };

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An identity provider's key set served over HTTP on 127.0.0.1, as the router fetches it. */
async function serveKeySet(jwks: { keys: Jose.JWK[] }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url !== '/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, server };
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('router identity', () => {
  let signingKey: Jose.CryptoKey;
  let otherKey: Jose.CryptoKey;
  let idp: { url: string; server: Server };
  let bus: EventBus;
  let transport: InMemoryTransport;
  let app: StageApp;
  let http: ReturnType<typeof request>;
  let seen: Record<string, EventEnvelope<object>[]>;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = await serveKeySet({ keys: [jwk] });
  });

  afterAll(async () => {
    await new Promise((resolve) => idp.server.close(resolve));
  });

  async function start(env: Record<string, string> = {}): Promise<void> {
    const config = loadPlatformConfig(
      {
        LLMBUS_MODE: 'embedded',
        OIDC_ISSUER: ISSUER,
        OIDC_AUDIENCE: AUDIENCE,
        OIDC_JWKS_URL: idp.url,
        ...env,
      },
      { mode: 'embedded', httpPort: 0, clientId: 'test' },
    );
    transport = new InMemoryTransport();
    bus = new EventBus(transport, { logger, retryDelayMs: 1 });
    seen = {};
    for (const type of [
      RequestSubmittedEvent.type,
      RequestRoutedEvent.type,
      RequestFailedEvent.type,
      DeadLetteredEvent.type,
    ]) {
      seen[type] = [];
      await bus.subscribe({
        stage: 'auditor',
        groupId: `observer-${type}`,
        notifyRequester: false,
        handlers: { [type]: async (e) => (seen[type].push(e), []) },
      });
    }
    // Identity is decided before any status is read: statuses are not under test here.
    const statusStore = { requestStatus: async () => undefined, ping: async () => undefined };
    app = await startRouter({ bus, config, logger, apiKeys, httpPort: 0, classifierModels, statusStore });
    http = request(app.url!);
  }

  afterEach(async () => {
    await app.close();
    await bus.close();
  });

  /** A token as the identity provider would issue it; `overrides` bend one property at a time. */
  function token(
    claims: Jose.JWTPayload = {},
    overrides: { key?: Jose.CryptoKey; issuer?: string; audience?: string; expiresAt?: number } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ tenant: 'acme', roles: ['submitter'], groups: ['support-staff'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
      .setSubject('user-dana')
      .setIssuer(overrides.issuer ?? ISSUER)
      .setAudience(overrides.audience ?? AUDIENCE)
      .setIssuedAt(now - 60)
      .setExpirationTime(overrides.expiresAt ?? now + 300)
      .sign(overrides.key ?? signingKey);
  }

  function submit(credentials: { apiKey?: string; bearer?: string }, body: object = {}) {
    const post = http.post('/v1/requests');
    if (credentials.apiKey) void post.set('X-Api-Key', credentials.apiKey);
    if (credentials.bearer) void post.set('Authorization', `Bearer ${credentials.bearer}`);
    return post.send({ eventType: 'ticket.created', input: ticket, ...body });
  }

  function published(): RequestSubmitted[] {
    return seen[RequestSubmittedEvent.type].map((e) => e.data as RequestSubmitted);
  }

  describe('HTTP ingress', () => {
    beforeEach(() => start());

    it('answers 403 naming the group when an API key claims a group it was not given', async () => {
      const res = await submit(
        { apiKey: KEYS.helpdesk },
        { requester: { groups: ['support-staff', 'execs'] } },
      );
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden_groups', groups: ['execs'] });
      expect(res.body.message).toMatch(/may not act for group\(s\) "execs"/);
      const none = await submit({ apiKey: KEYS.noGroups }, { requester: { groups: ['execs'] } });
      expect(none.status).toBe(403);
      expect(published()).toHaveLength(0);
    });

    it("publishes the API key's groups and id when the body names no groups, and a named subset as is", async () => {
      await submit({ apiKey: KEYS.helpdesk }, { requestId: 'all-groups' }).expect(202);
      await submit(
        { apiKey: KEYS.helpdesk },
        { requestId: 'one-group', requester: { groups: ['hr'] } },
      ).expect(202);
      await until(() => published().length === 2);
      const byId = Object.fromEntries(published().map((p) => [p.requestId, p.requester]));
      expect(byId['all-groups']).toEqual({
        userId: apiKeyFingerprint(KEYS.helpdesk),
        groups: ['support-staff', 'hr'],
      });
      expect(byId['one-group']).toEqual({ userId: apiKeyFingerprint(KEYS.helpdesk), groups: ['hr'] });
    });

    it("refuses a requester.userId other than the caller's own with 403", async () => {
      const res = await submit({ apiKey: KEYS.helpdesk }, { requester: { userId: 'ceo' } });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden_user' });
      await submit(
        { apiKey: KEYS.helpdesk },
        { requester: { userId: apiKeyFingerprint(KEYS.helpdesk) } },
      ).expect(202);
    });

    it('takes tenant, user and groups from a verified JWT and refuses groups the token lacks', async () => {
      const bearer = await token();
      const refused = await submit({ bearer }, { requester: { groups: ['execs'] } });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: 'forbidden_groups', groups: ['execs'] });
      const accepted = await submit({ bearer }, { requestId: 'jwt-1' }).expect(202);
      await until(() => published().length === 1);
      const [event] = seen[RequestSubmittedEvent.type];
      expect(event.tenantid).toBe('acme');
      expect(event.data).toMatchObject({
        requestId: accepted.body.requestId,
        requester: { userId: 'user-dana', groups: ['support-staff'] },
      });
    });

    it('lets a reader JWT read but not submit', async () => {
      const bearer = await token({ roles: ['reader'] });
      const res = await submit({ bearer });
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/token \(user-dana\) lacks the "submitter" role/);
      await http.get('/v1/requests/nothing-yet').set('Authorization', `Bearer ${bearer}`).expect(404);
    });

    it.each([
      ['an expired token', () => token({}, { expiresAt: Math.floor(Date.now() / 1000) - 120 }), /expired/],
      [
        'a token from another issuer',
        () => token({}, { issuer: 'https://evil.example.test/' }),
        /"iss" claim/,
      ],
      ['a token for another audience', () => token({}, { audience: 'another-service' }), /"aud" claim/],
      ['a token signed by another key', () => token({}, { key: otherKey }), /signature is not valid/],
      [
        'an unsigned token (alg none)',
        async () =>
          `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
            iss: ISSUER,
            aud: AUDIENCE,
            sub: 'user-dana',
            tenant: 'acme',
            roles: ['admin'],
            exp: Math.floor(Date.now() / 1000) + 300,
          })}.`,
        /accepted algorithm/,
      ],
      ['a token whose tenant fails the tenant pattern', () => token({ tenant: '_none' }), /"tenant" claim/],
      ['a token without a tenant', () => token({ tenant: undefined }), /"tenant" claim/],
    ])('answers 401 to %s, saying why without echoing it', async (_, make, reason) => {
      const bearer = await make();
      const res = await submit({ bearer });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_token', message: expect.stringMatching(reason) });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
      expect(JSON.stringify(res.body)).not.toContain(bearer.split('.')[1]);
      expect(published()).toHaveLength(0);
    });
  });

  describe('trusted sources on the request topic', () => {
    function rawRequest(requestId: string, source: string, tenant: string) {
      const value: RequestSubmitted = {
        requestId,
        eventType: 'ticket.created',
        input: ticket,
        requester: { groups: ['execs'] },
      };
      return transport.produceRaw(
        Topics.Request.name,
        requestId,
        {
          ce_id: `${source}/${requestId}`,
          ce_source: source,
          ce_type: RequestSubmittedEvent.type,
          ce_specversion: '1.0',
          ce_time: new Date().toISOString(),
          ce_correlationid: requestId,
          ce_tenantid: tenant,
          ce_schemaversion: '1',
        },
        Buffer.from(JSON.stringify(value)),
      );
    }

    it('dead-letters a request whose source may not assert its tenant, and tells the requester which pair and variable', async () => {
      await start({ LLMBUS_TRUSTED_SOURCES: '/helpdesk=acme,/alerts=acme|globex' });
      await rawRequest('forged-1', '/helpdesk', 'globex');
      await rawRequest('unlisted-1', '/somebody', 'acme');
      await rawRequest('allowed-1', '/alerts', 'globex');
      await until(
        () => seen[RequestFailedEvent.type].length === 2 && seen[RequestRoutedEvent.type].length === 1,
      );
      const failed = Object.fromEntries(
        seen[RequestFailedEvent.type].map((e) => [
          (e.data as RequestFailed).requestId,
          e.data as RequestFailed,
        ]),
      );
      expect(failed['forged-1']).toMatchObject({ code: 'untrusted_source', stage: 'router' });
      expect(failed['forged-1'].message).toMatch(
        /source "\/helpdesk" may not assert tenant "globex".*Add "globex" to the "\/helpdesk" entry of LLMBUS_TRUSTED_SOURCES/,
      );
      expect(failed['forged-1'].message).not.toContain('acme');
      expect(failed['unlisted-1'].message).toMatch(
        /source "\/somebody" .* not listed in LLMBUS_TRUSTED_SOURCES. Add "\/somebody=acme"/,
      );
      await until(() => seen[DeadLetteredEvent.type].length === 2);
      const dead = seen[DeadLetteredEvent.type].map((e) => e.data as DeadLettered);
      expect(dead.map((d) => [d.reasonCode, d.originalHeaders['ce_source']]).sort()).toEqual([
        ['untrusted_source', '/helpdesk'],
        ['untrusted_source', '/somebody'],
      ]);
      expect(seen[RequestRoutedEvent.type][0]).toMatchObject({
        tenantid: 'globex',
        correlationid: 'allowed-1',
      });
    });

    it("accepts the router's own HTTP ingress for every tenant unless the variable names its source", async () => {
      await start({ LLMBUS_TRUSTED_SOURCES: '/helpdesk=acme' });
      await submit({ apiKey: KEYS.helpdesk }, { requestId: 'via-http' }).expect(202);
      await until(() => seen[RequestRoutedEvent.type].length === 1);
      await app.close();
      await bus.close();

      await start({ LLMBUS_TRUSTED_SOURCES: '/llmbus/ingress=globex' });
      const res = await submit({ apiKey: KEYS.helpdesk });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'untrusted_source' });
      expect(res.body.message).toMatch(/LLMBUS_TRUSTED_SOURCES/);
      expect(published()).toHaveLength(0);
    });
  });
});
