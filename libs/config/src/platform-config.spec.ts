import { ConfigError } from './env';
import { loadPlatformConfig } from './platform-config';

const defaults = { mode: 'distributed' as const, httpPort: 8080, clientId: 'llmbus-test' };
const valid = { KAFKA_BROKERS: '127.0.0.1:19092', API_KEYS: 'key-acme-0123456789:acme:admin' };

describe('loadPlatformConfig', () => {
  it('parses a distributed configuration with defaults', () => {
    const config = loadPlatformConfig(valid, defaults);
    expect(config.kafka?.brokers).toEqual(['127.0.0.1:19092']);
    expect(config.http.port).toBe(8080);
    expect(config.apiKeys?.size).toBe(1);
  });

  it.each([
    [
      { ...valid, KAFKA_BROKERS: 'localhost' },
      /KAFKA_BROKERS is "localhost": expected comma-separated host:port/,
    ],
    [{ ...valid, HTTP_PORT: 'eighty' }, /HTTP_PORT is "eighty": expected an integer from 0 to 65535/],
    [{ ...valid, LLMBUS_MODE: 'cluster' }, /LLMBUS_MODE is "cluster": expected one of embedded, distributed/],
    [{ KAFKA_BROKERS: '127.0.0.1:1' }, /API_KEYS is not set/],
    [{ ...valid, QDRANT_URL: 'qdrant:6333' }, /QDRANT_URL .* expected an http/],
    [
      { ...valid, LLMBUS_CONSUMER_CONCURRENCY: '0' },
      /LLMBUS_CONSUMER_CONCURRENCY is "0": expected an integer/,
    ],
  ])('stops on a bad value and names the variable (%#)', (env, message) => {
    expect(() => loadPlatformConfig(env, defaults)).toThrow(ConfigError);
    expect(() => loadPlatformConfig(env, defaults)).toThrow(message);
  });

  it('lets the auditor wait up to 100 ms for a fetch unless LLMBUS_AUDIT_FETCH_WAIT_MS says otherwise', () => {
    expect(loadPlatformConfig(valid, defaults).auditFetchWaitMs).toBe(100);
    expect(loadPlatformConfig({ ...valid, LLMBUS_AUDIT_FETCH_WAIT_MS: '0' }, defaults).auditFetchWaitMs).toBe(
      0,
    );
    expect(() => loadPlatformConfig({ ...valid, LLMBUS_AUDIT_FETCH_WAIT_MS: '60000' }, defaults)).toThrow(
      /LLMBUS_AUDIT_FETCH_WAIT_MS is "60000": expected an integer from 0 to 5000/,
    );
  });

  it('works on 8 messages at once per consumer unless LLMBUS_CONSUMER_CONCURRENCY says otherwise', () => {
    expect(loadPlatformConfig(valid, defaults).kafka?.concurrency).toBe(8);
    expect(
      loadPlatformConfig({ ...valid, LLMBUS_CONSUMER_CONCURRENCY: '32' }, defaults).kafka?.concurrency,
    ).toBe(32);
  });

  it('sizes the rebalance timeout to every attempt of the longest model call, apart from the session timeout', () => {
    expect(loadPlatformConfig(valid, defaults).kafka).toMatchObject({
      sessionTimeoutMs: 6_000,
      // 3 attempts x 120 s model deadline + 30 s margin.
      rebalanceTimeoutMs: 390_000,
    });
    expect(
      loadPlatformConfig({ ...valid, LLMBUS_MAX_ATTEMPTS: '1', OPENAI_TIMEOUT_MS: '200000' }, defaults).kafka
        ?.rebalanceTimeoutMs,
    ).toBe(230_000);
    expect(
      loadPlatformConfig({ ...valid, KAFKA_REBALANCE_TIMEOUT_MS: '45000' }, defaults).kafka
        ?.rebalanceTimeoutMs,
    ).toBe(45_000);
  });

  it('gives generator model calls the local deadline when LLMBUS_LOCAL_TIMEOUT_MS raises it', () => {
    expect(loadPlatformConfig(valid, defaults).modelCallDeadlineMs).toBe(120_000);
    const slow = loadPlatformConfig({ ...valid, LLMBUS_LOCAL_TIMEOUT_MS: '900000' }, defaults);
    expect(slow.modelCallDeadlineMs).toBe(900_000);
    // The rebalance timeout covers every attempt of that deadline.
    expect(slow.kafka?.rebalanceTimeoutMs).toBe(3 * 900_000 + 30_000);
    expect(
      loadPlatformConfig({ ...valid, LLMBUS_LOCAL_TIMEOUT_MS: '5000' }, defaults).modelCallDeadlineMs,
    ).toBe(120_000);
  });

  it('refuses a rebalance timeout shorter than the session timeout, naming the variable', () => {
    expect(() =>
      loadPlatformConfig(
        { ...valid, KAFKA_SESSION_TIMEOUT_MS: '20000', KAFKA_REBALANCE_TIMEOUT_MS: '10000' },
        defaults,
      ),
    ).toThrow(
      /KAFKA_REBALANCE_TIMEOUT_MS is "10000": expected milliseconds from KAFKA_SESSION_TIMEOUT_MS \(20000\)/,
    );
  });

  it('runs the bus on kafkajs unless LLMBUS_KAFKA_CLIENT names the platformatic client', () => {
    expect(loadPlatformConfig(valid, defaults).kafka?.client).toBe('kafkajs');
    expect(
      loadPlatformConfig({ ...valid, LLMBUS_KAFKA_CLIENT: 'platformatic' }, defaults).kafka?.client,
    ).toBe('platformatic');
    expect(() => loadPlatformConfig({ ...valid, LLMBUS_KAFKA_CLIENT: 'rdkafka' }, defaults)).toThrow(
      /LLMBUS_KAFKA_CLIENT is "rdkafka": expected one of kafkajs, platformatic/,
    );
  });

  it("takes a static group instance id on the platformatic client only, and only in Kafka's form", () => {
    const platformatic = { ...valid, LLMBUS_KAFKA_CLIENT: 'platformatic' };
    expect(loadPlatformConfig(platformatic, defaults).kafka?.groupInstanceId).toBeUndefined();
    expect(
      loadPlatformConfig({ ...platformatic, KAFKA_GROUP_INSTANCE_ID: 'generator-0' }, defaults).kafka
        ?.groupInstanceId,
    ).toBe('generator-0');
    expect(() => loadPlatformConfig({ ...platformatic, KAFKA_GROUP_INSTANCE_ID: 'pod 0' }, defaults)).toThrow(
      /KAFKA_GROUP_INSTANCE_ID is "pod 0": expected 1 to 249 characters/,
    );
    expect(() =>
      loadPlatformConfig({ ...platformatic, KAFKA_GROUP_INSTANCE_ID: 'x'.repeat(250) }, defaults),
    ).toThrow(/KAFKA_GROUP_INSTANCE_ID/);
    expect(() => loadPlatformConfig({ ...valid, KAFKA_GROUP_INSTANCE_ID: 'generator-0' }, defaults)).toThrow(
      /KAFKA_GROUP_INSTANCE_ID is "generator-0": expected unset with LLMBUS_KAFKA_CLIENT=kafkajs/,
    );
  });

  it('does not require API keys of a stage without an HTTP surface', () => {
    const config = loadPlatformConfig({ KAFKA_BROKERS: '127.0.0.1:1' }, { ...defaults, servesHttp: false });
    expect(config.apiKeys).toBeUndefined();
  });

  it('requires API keys of a stage without an HTTP API once it serves metrics', () => {
    expect(() =>
      loadPlatformConfig(
        { KAFKA_BROKERS: '127.0.0.1:1', METRICS_PORT: '9464' },
        { ...defaults, servesHttp: false },
      ),
    ).toThrow(/API_KEYS is not set/);
    expect(() => loadPlatformConfig({ ...valid, METRICS_PORT: 'x' }, defaults)).toThrow(
      /METRICS_PORT is "x"/,
    );
  });

  it('never echoes API key material in its error', () => {
    expect(() => loadPlatformConfig({ ...valid, API_KEYS: 'secret-but-bad' }, defaults)).toThrow(
      /<redacted>/,
    );
    expect(() => loadPlatformConfig({ ...valid, API_KEYS: 'secret-but-bad' }, defaults)).not.toThrow(
      /secret-but-bad/,
    );
  });

  it('reads LLMBUS_PII_PREVIOUS_KEYS as base64 or hex keys, empty when unset', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    expect(loadPlatformConfig(valid, defaults).piiPreviousKeys).toEqual([]);
    const config = loadPlatformConfig(
      { ...valid, LLMBUS_PII_PREVIOUS_KEYS: ` ${a.toString('base64')}, ${b.toString('hex')} ` },
      defaults,
    );
    expect(config.piiPreviousKeys).toEqual([a, b]);
  });

  it('refuses a bad LLMBUS_PII_PREVIOUS_KEYS entry naming the variable and its position, never the value', () => {
    const good = Buffer.alloc(32, 1).toString('base64');
    const load = (value: string) => () =>
      loadPlatformConfig({ ...valid, LLMBUS_PII_PREVIOUS_KEYS: value }, defaults);
    expect(load(`${good},c2hvcnQ=`)).toThrow(ConfigError);
    expect(load(`${good},c2hvcnQ=`)).toThrow(/^LLMBUS_PII_PREVIOUS_KEYS is "<redacted>".*entry 2 is not one/);
    expect(load(`${good},`)).toThrow(/entry 2 is not one/);
    try {
      load(`${good},c2hvcnQ=`)();
    } catch (error) {
      expect((error as Error).message).not.toContain(good);
      expect((error as Error).message).not.toContain('c2hvcnQ=');
    }
  });

  describe('identity', () => {
    const oidc = {
      OIDC_ISSUER: 'https://idp.example.test/realms/acme',
      OIDC_AUDIENCE: 'llmbus, llmbus-console',
      OIDC_JWKS_URL: 'https://idp.example.test/realms/acme/protocol/openid-connect/certs',
    };

    it('parses OIDC settings with default algorithms and claim names', () => {
      const config = loadPlatformConfig({ ...valid, ...oidc }, defaults);
      expect(config.oidc).toEqual({
        issuer: oidc.OIDC_ISSUER,
        audiences: ['llmbus', 'llmbus-console'],
        jwksUrl: oidc.OIDC_JWKS_URL,
        algorithms: ['RS256', 'ES256'],
        clockToleranceSeconds: 30,
        tenantClaim: 'tenant',
        rolesClaim: 'roles',
        groupsClaim: 'groups',
      });
      expect(loadPlatformConfig(valid, defaults).oidc).toBeUndefined();
    });

    it('lets bearer JWTs replace API keys on an HTTP stage', () => {
      const config = loadPlatformConfig({ KAFKA_BROKERS: '127.0.0.1:1', ...oidc }, defaults);
      expect(config.apiKeys).toBeUndefined();
      expect(config.oidc?.issuer).toBe(oidc.OIDC_ISSUER);
    });

    it.each([
      [{ OIDC_AUDIENCE: 'llmbus' }, /OIDC_ISSUER is not set: .*since OIDC_AUDIENCE is set/],
      [{ ...oidc, OIDC_AUDIENCE: ' , ' }, /OIDC_AUDIENCE is " , ": expected the audience/],
      [{ ...oidc, OIDC_JWKS_URL: '' }, /OIDC_JWKS_URL is not set: expected an https:\/\/ URL/],
      [
        { ...oidc, OIDC_JWKS_URL: 'http://idp.example.test/certs' },
        /OIDC_JWKS_URL .*http:\/\/ only on localhost/,
      ],
      [
        { ...oidc, OIDC_ALGORITHMS: 'RS256,HS256' },
        /OIDC_ALGORITHMS is "RS256,HS256": expected .*asymmetric/,
      ],
      [{ ...oidc, OIDC_ALGORITHMS: 'none' }, /OIDC_ALGORITHMS is "none"/],
      [
        { ...oidc, OIDC_GROUPS_CLAIM: 'my groups' },
        /OIDC_GROUPS_CLAIM is "my groups": expected a claim name/,
      ],
      [{ LLMBUS_TRUSTED_SOURCES: '/helpdesk' }, /LLMBUS_TRUSTED_SOURCES is "\/helpdesk": .*entry 1 must be/],
      [{ LLMBUS_TRUSTED_SOURCES: '/a=Acme' }, /LLMBUS_TRUSTED_SOURCES .*"Acme" is not a tenant id/],
    ])('stops on a bad identity setting and names the variable (%#)', (env, message) => {
      expect(() => loadPlatformConfig({ ...valid, ...env }, defaults)).toThrow(ConfigError);
      expect(() => loadPlatformConfig({ ...valid, ...env }, defaults)).toThrow(message);
    });

    it('accepts http:// key sets on this machine only, and parses trusted sources', () => {
      const local = loadPlatformConfig(
        {
          ...valid,
          ...oidc,
          OIDC_JWKS_URL: 'http://127.0.0.1:8180/certs',
          LLMBUS_TRUSTED_SOURCES: '/a=acme',
        },
        defaults,
      );
      expect(local.oidc?.jwksUrl).toBe('http://127.0.0.1:8180/certs');
      expect(local.trustedSources?.check('/a', 'acme')).toEqual({ allowed: true });
    });

    it('points at groups in API_KEYS errors without echoing the key', () => {
      const env = { ...valid, API_KEYS: 'key-acme-0123456789:acme:reader:top secret' };
      expect(() => loadPlatformConfig(env, defaults)).toThrow(/API_KEYS .*entry 1, field 4 \(groups\)/);
      expect(() => loadPlatformConfig(env, defaults)).not.toThrow(/0123456789/);
    });
  });
});
