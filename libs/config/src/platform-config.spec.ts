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
  ])('stops on a bad value and names the variable (%#)', (env, message) => {
    expect(() => loadPlatformConfig(env, defaults)).toThrow(ConfigError);
    expect(() => loadPlatformConfig(env, defaults)).toThrow(message);
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
});
