import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ service: 'test', level: 'info', destination }) };
}

describe('createLogger', () => {
  it('redacts PII and secrets that slip into free text: the message, string fields, error messages', () => {
    const { lines, logger } = capture();
    logger.warn(
      { reason: 'customer Maria Schneider gave card 4111 1111 1111 1111', attempt: 2, stage: 'validator' },
      'could not reach maria.schneider@example.de from 10.20.30.41',
    );
    logger.error(
      { err: new Error('upstream refused Bearer 9c1f4e7a2b5d8c3e6f9a1b4c7d0e3f6a') },
      'call failed',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/Schneider|4111 1111|maria\.schneider@|10\.20\.30\.41|9c1f4e7a/);
    expect(lines[0]).toMatchObject({
      msg: 'could not reach [EMAIL redacted] from [IP_ADDRESS redacted]',
      reason: 'customer [PERSON redacted] gave card [PAYMENT_CARD redacted]',
      attempt: 2,
      stage: 'validator',
    });
    expect((lines[1]['err'] as { message: string }).message).toBe(
      'upstream refused Bearer [BEARER_TOKEN redacted]',
    );
  });

  it('drops request text, prompts and keys by path, whatever they contain', () => {
    const { lines, logger } = capture();
    logger.info(
      { input: { body: 'hello' }, renderedPrompt: '[...]', piiVault: { data: 'x' }, LLMBUS_PII_KEY: 'k' },
      'generated',
    );
    expect(lines[0]).toMatchObject({
      input: '[redacted]',
      renderedPrompt: '[redacted]',
      piiVault: '[redacted]',
      LLMBUS_PII_KEY: '[redacted]',
    });
  });

  it('drops the previous PII keys, by variable and by config field', () => {
    const { lines, logger } = capture();
    logger.info({ LLMBUS_PII_PREVIOUS_KEYS: 'a,b', config: { piiPreviousKeys: ['a', 'b'] } }, 'started');
    expect(lines[0]).toMatchObject({
      LLMBUS_PII_PREVIOUS_KEYS: '[redacted]',
      config: { piiPreviousKeys: '[redacted]' },
    });
  });

  it('leaves ordinary operational messages as they are', () => {
    const { lines, logger } = capture();
    const messages = [
      'generator started',
      'request routed',
      'response validated',
      'prompt truncated to fit the context window',
      'Nest microservice successfully started',
      'consumer lag for t-e2e.llmbus.router partition 3 is 12',
    ];
    for (const message of messages)
      logger.info({ workflow: 'support-ticket@1', modelTier: 'small' }, message);
    expect(lines.map((line) => line['msg'])).toEqual(messages);
    expect(lines[0]).toMatchObject({ workflow: 'support-ticket@1', modelTier: 'small' });
  });
});

describe('createLogger with format "pretty"', () => {
  it('writes readable lines, not JSON, still redacted', () => {
    let text = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString('utf8');
        done();
      },
    });
    const logger = createLogger({ service: 'test', level: 'info', destination, format: 'pretty' });
    logger.info({ apiKey: 'k-123456789', stage: 'router' }, 'router started');
    expect(text).toMatch(/INFO.*router started/);
    expect(text).toMatch(/stage: "router"/);
    expect(text).not.toContain('k-123456789');
    expect(() => JSON.parse(text.split('\n')[0])).toThrow();
  });
});
