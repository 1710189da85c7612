import { logLevel } from 'kafkajs';
import { kafkajsLogLevel } from './kafka-transport';

// With LLMBUS_DELIVERY=exactly-once, kafkajs's producer logged every retried CONCURRENT_TRANSACTIONS
// as `Failed to send messages: The producer attempted to update a transaction while another
// concurrent operation on the same transaction was ongoing` at error (31 error lines for 200
// messages in bench:delivery): the check looked only at an `error` field this entry does not have.
describe('kafkajs log levels', () => {
  const concurrent =
    'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

  it("logs the producer's retried CONCURRENT_TRANSACTIONS at debug", () => {
    expect(kafkajsLogLevel(logLevel.ERROR, { message: `Failed to send messages: ${concurrent}` })).toBe(
      'debug',
    );
    expect(
      kafkajsLogLevel(logLevel.ERROR, { message: 'Response AddPartitionsToTxn', error: concurrent }),
    ).toBe('debug');
  });

  it('keeps the level of every other entry', () => {
    expect(kafkajsLogLevel(logLevel.ERROR, { message: 'Failed to send messages: Connection timeout' })).toBe(
      'error',
    );
    expect(kafkajsLogLevel(logLevel.WARN, { message: 'rebalancing' })).toBe('warn');
  });
});
