import { isPermanentDataError, sqlStateOf } from './record-errors';

const pgError = (code: string) => Object.assign(new Error(`error ${code}`), { code });

describe('isPermanentDataError', () => {
  it.each([
    ['22021', 'U+0000 in a text parameter'],
    ['22P05', '\\u0000 in jsonb'],
    ['22P02', 'a lone surrogate escape in jsonb'],
    ['22003', 'a number out of its column range'],
    ['22008', 'a time out of range'],
    ['23502', 'not-null violation'],
    ['23514', 'check violation'],
  ])('treats SQLSTATE %s (%s) as permanent', (code) => {
    expect(isPermanentDataError(pgError(code))).toBe(true);
  });

  it.each([
    ['23505', 'unique violation: a concurrent insert; a retry hits ON CONFLICT'],
    ['08006', 'connection failure'],
    ['08001', 'cannot connect'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['53300', 'too many connections'],
    ['57P01', 'admin shutdown'],
    ['57P03', 'cannot connect now'],
    ['42P01', 'undefined table: a missing migration'],
    ['XX000', 'internal error'],
  ])('treats SQLSTATE %s (%s) as possibly transient', (code) => {
    expect(isPermanentDataError(pgError(code))).toBe(false);
  });

  it('treats errors without a SQLSTATE (sockets, timeouts, anything else) as transient', () => {
    expect(isPermanentDataError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentDataError(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isPermanentDataError('22021')).toBe(false);
    expect(isPermanentDataError(undefined)).toBe(false);
    expect(sqlStateOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
  });
});
