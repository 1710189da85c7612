import type { KafkaConfig } from 'kafkajs';
import pino from 'pino';
import { PlatformaticKafkaTransport } from './platformatic-kafka-transport';
import { platformaticSecurity, UnsupportedKafkaSecurityError } from './platformatic-connection-security';

describe('platformaticSecurity', () => {
  it('sets no TLS nor SASL when kafkajs would get none', () => {
    expect(platformaticSecurity(undefined, undefined)).toEqual({});
    expect(platformaticSecurity(false, undefined)).toEqual({});
  });

  it("turns ssl: true into TLS with Node's defaults and passes TLS options through", () => {
    expect(platformaticSecurity(true, undefined)).toEqual({ tls: {} });
    const ssl = {
      ca: ['-----BEGIN CERTIFICATE-----'],
      servername: 'kafka.internal',
      rejectUnauthorized: true,
    };
    expect(platformaticSecurity(ssl, undefined)).toEqual({ tls: ssl });
  });

  it.each([
    ['plain', 'PLAIN'],
    ['scram-sha-256', 'SCRAM-SHA-256'],
    ['scram-sha-512', 'SCRAM-SHA-512'],
  ] as const)('keeps the username and password of SASL %s as %s', (mechanism, expected) => {
    const sasl = { mechanism, username: 'svc', password: 'pw' } as KafkaConfig['sasl'];
    expect(platformaticSecurity(true, sasl)).toEqual({
      tls: {},
      sasl: { mechanism: expected, username: 'svc', password: 'pw' },
    });
  });

  it("asks kafkajs's OAUTHBEARER provider for a fresh token on each authentication", async () => {
    let issued = 0;
    const security = platformaticSecurity(true, {
      mechanism: 'oauthbearer',
      oauthBearerProvider: () => Promise.resolve({ value: `token-${++issued}` }),
    });
    expect(security.sasl?.mechanism).toBe('OAUTHBEARER');
    const token = security.sasl?.token;
    expect(typeof token).toBe('function');
    const provide = token as () => Promise<string>;
    expect(await provide()).toBe('token-1');
    expect(await provide()).toBe('token-2');
  });

  it('refuses AWS IAM, naming the client setting to change', () => {
    const sasl: KafkaConfig['sasl'] = {
      mechanism: 'aws',
      authorizationIdentity: 'id',
      accessKeyId: 'AKIA',
      secretAccessKey: 'secret',
    };
    expect(() => platformaticSecurity(true, sasl)).toThrow(UnsupportedKafkaSecurityError);
    expect(() => platformaticSecurity(true, sasl)).toThrow(/"aws".*LLMBUS_KAFKA_CLIENT=kafkajs/);
    // The secret is not echoed in the message.
    expect(() => platformaticSecurity(true, sasl)).not.toThrow(/secret/);
  });

  it('refuses a custom kafkajs mechanism', () => {
    const sasl: KafkaConfig['sasl'] = {
      mechanism: 'my-mechanism',
      authenticationProvider: () => ({ authenticate: () => Promise.resolve() }),
    };
    expect(() => platformaticSecurity(undefined, sasl)).toThrow(
      /custom SASL mechanism "my-mechanism".*LLMBUS_KAFKA_CLIENT=kafkajs/,
    );
  });
});

describe('PlatformaticKafkaTransport security', () => {
  it('stops at construction on a SASL setting the client cannot honour, before connecting anywhere', () => {
    expect(
      () =>
        new PlatformaticKafkaTransport({
          brokers: ['127.0.0.1:1'],
          clientId: 'spec',
          logger: pino({ level: 'silent' }),
          sasl: { mechanism: 'aws', authorizationIdentity: 'id', accessKeyId: 'a', secretAccessKey: 's' },
        }),
    ).toThrow(UnsupportedKafkaSecurityError);
  });
});
