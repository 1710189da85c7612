import { toErrorBody } from './error-body.filter';

describe('toErrorBody', () => {
  it("gives Nest's bare exceptions a code instead of their reason phrase", () => {
    expect(toErrorBody(404, 'no request r-1')).toEqual({
      statusCode: 404,
      error: 'not_found',
      message: 'no request r-1',
    });
    expect(toErrorBody(403, { statusCode: 403, message: 'no', error: 'Forbidden' })).toEqual({
      statusCode: 403,
      error: 'forbidden',
      message: 'no',
    });
  });

  it('turns a validation message array into one message and details', () => {
    const body = toErrorBody(400, {
      statusCode: 400,
      message: ['decision must be one of approve, edit, reject', 'property extra should not exist'],
      error: 'Bad Request',
    });
    expect(body).toEqual({
      statusCode: 400,
      error: 'invalid_request',
      message:
        'the request is invalid: decision must be one of approve, edit, reject; property extra should not exist',
      details: ['decision must be one of approve, edit, reject', 'property extra should not exist'],
    });
  });

  it('keeps a code the thrower named and its extra fields', () => {
    const thrown = { statusCode: 409, error: 'request_id_conflict', message: 'used', requestId: 'r-1' };
    expect(toErrorBody(409, thrown)).toEqual(thrown);
  });
});
