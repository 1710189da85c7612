import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import type { KafkaConfig } from 'kafkajs';

/** TLS and SASL as @platformatic/kafka's clients take them (`tls`, `sasl` of its ConnectionOptions). */
export type PlatformaticSecurity = Pick<Platformatic.ConnectionOptions, 'tls' | 'sasl'>;

/** SASL mechanisms of kafkajs's `sasl` option that @platformatic/kafka also implements, by kafkajs name. */
const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  oauthbearer: 'OAUTHBEARER',
} as const;

/** Thrown for a TLS/SASL setting of KafkaTransportOptions that @platformatic/kafka cannot honour. */
export class UnsupportedKafkaSecurityError extends Error {
  readonly code = 'KAFKA_SECURITY_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedKafkaSecurityError';
  }
}

/**
 * The same `ssl` and `sasl` settings the kafkajs transport passes to kafkajs (KafkaConfig), in
 * @platformatic/kafka's terms, so either client connects to a secured cluster alike:
 * `ssl: true` is TLS with Node's defaults, an object is passed through as Node's
 * tls.ConnectionOptions (CA, client certificate, servername...); PLAIN and SCRAM-SHA-256/512 keep
 * their username and password; OAUTHBEARER's `oauthBearerProvider` is asked for a token on each
 * authentication, as kafkajs does. Credentials are copied, never logged.
 * @throws UnsupportedKafkaSecurityError for what @platformatic/kafka has no equivalent of: the
 *   `aws` mechanism (AWS IAM) and custom `authenticationProvider` mechanisms.
 */
export function platformaticSecurity(
  ssl: KafkaConfig['ssl'],
  sasl: KafkaConfig['sasl'],
): PlatformaticSecurity {
  const security: { tls?: Platformatic.ConnectionOptions['tls']; sasl?: Platformatic.SASLOptions } = {};
  if (ssl === true) security.tls = {};
  else if (ssl) security.tls = { ...ssl };
  if (!sasl) return security;
  if ('authenticationProvider' in sasl)
    throw new UnsupportedKafkaSecurityError(
      `the custom SASL mechanism "${sasl.mechanism}" (an authenticationProvider) is kafkajs-only: ` +
        `run with LLMBUS_KAFKA_CLIENT=kafkajs, or use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER`,
    );
  switch (sasl.mechanism) {
    case 'plain':
    case 'scram-sha-256':
    case 'scram-sha-512':
      security.sasl = {
        mechanism: SASL_MECHANISMS[sasl.mechanism],
        username: sasl.username,
        password: sasl.password,
      };
      return security;
    case 'oauthbearer': {
      const provider = sasl.oauthBearerProvider;
      security.sasl = {
        mechanism: SASL_MECHANISMS.oauthbearer,
        token: async () => (await provider()).value,
      };
      return security;
    }
    case 'aws':
      throw new UnsupportedKafkaSecurityError(
        'SASL mechanism "aws" (AWS IAM) is not implemented by @platformatic/kafka: run with ' +
          'LLMBUS_KAFKA_CLIENT=kafkajs, or authenticate with SCRAM or OAUTHBEARER',
      );
    default: {
      const unknown: { mechanism?: unknown } = sasl;
      throw new UnsupportedKafkaSecurityError(
        `unknown SASL mechanism "${String(unknown.mechanism)}": expected one of ${Object.keys(SASL_MECHANISMS).join(', ')}`,
      );
    }
  }
}
