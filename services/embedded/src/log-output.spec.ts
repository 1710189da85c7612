import { loadPlatformConfig } from '@llmbus/config';
import { embeddedLogFormat } from './log-output';

const config = (env: Record<string, string>) =>
  loadPlatformConfig(env, { mode: 'embedded', httpPort: 0, clientId: 'test' });

describe('embeddedLogFormat', () => {
  it('logs readable lines when stdout is a terminal', () => {
    expect(embeddedLogFormat(config({}), { isTTY: true })).toBe('pretty');
  });

  it('logs JSON when stdout is a pipe or a file', () => {
    expect(embeddedLogFormat(config({}), { isTTY: false })).toBe('json');
    expect(embeddedLogFormat(config({}), {})).toBe('json');
  });

  it('follows LOG_FORMAT over the terminal check', () => {
    expect(embeddedLogFormat(config({ LOG_FORMAT: 'json' }), { isTTY: true })).toBe('json');
    expect(embeddedLogFormat(config({ LOG_FORMAT: 'pretty' }), { isTTY: false })).toBe('pretty');
    expect(embeddedLogFormat(config({ LOG_FORMAT: 'auto' }), { isTTY: true })).toBe('pretty');
  });

  it('refuses another LOG_FORMAT, naming the variable', () => {
    expect(() => config({ LOG_FORMAT: 'text' })).toThrow(/LOG_FORMAT/);
  });
});
