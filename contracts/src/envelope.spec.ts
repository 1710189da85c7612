import { decodeMessage, decodeStructured, validateAttributes } from './index';

const attributes = {
  specversion: '1.0',
  id: 'e-1',
  source: '/upstream/sdk',
  type: 'llmbus.request.submitted',
  time: '2026-01-01T12:00:00Z',
  tenantid: 'acme',
  correlationid: 'r-1',
  schemaversion: 1,
};
const payload = { requestId: 'r-1', eventType: 'ticket.created', input: {}, requester: { groups: [] } };

describe('decodeMessage', () => {
  it('reads binary mode from ce_ headers and the JSON value, as before', () => {
    const decoded = decodeMessage(
      { 'content-type': 'application/json', ce_id: 'e-1', ce_tenantid: 'acme', ce_schemaversion: '2' },
      JSON.stringify(payload),
    );
    expect(decoded).toEqual({
      mode: 'binary',
      attributes: { id: 'e-1', tenantid: 'acme', schemaversion: 2 },
      data: payload,
      attributePrefix: 'ce_',
    });
    expect(decodeMessage({}, '{oops').dataProblem?.errors).toEqual(['value: not JSON']);
  });

  it('refuses a binary-mode payload whose content-type is not JSON, and reads any JSON one', () => {
    const value = JSON.stringify(payload);
    for (const contentType of ['application/xml', 'text/plain; charset=utf-8', 'application/octet-stream']) {
      const decoded = decodeMessage(
        { 'content-type': contentType, ce_id: 'e-1', ce_tenantid: 'acme' },
        value,
      );
      expect(decoded).toMatchObject({
        mode: 'binary',
        attributes: { id: 'e-1', tenantid: 'acme' },
        data: undefined,
        dataProblem: { errors: ['content-type: not JSON'] },
      });
      expect(decoded.dataProblem?.reason).toContain(
        `the content-type header is "${contentType.split(';')[0]}"`,
      );
    }
    for (const contentType of [
      'application/json; charset=utf-8',
      'Application/JSON',
      'text/json',
      'application/vnd.acme+json',
    ]) {
      expect(decodeMessage({ 'Content-Type': contentType }, value)).toMatchObject({
        mode: 'binary',
        data: payload,
      });
      expect(decodeMessage({ 'Content-Type': contentType }, value).dataProblem).toBeUndefined();
    }
  });

  it.each([
    'application/cloudevents+json',
    'Application/CloudEvents+JSON',
    'application/cloudevents+json; charset=utf-8',
    ' application/cloudevents+json ;charset=UTF-8',
  ])('reads structured mode when the content type is "%s"', (contentType) => {
    for (const name of ['content-type', 'Content-Type']) {
      const decoded = decodeMessage(
        { [name]: contentType },
        JSON.stringify({ ...attributes, data: payload }),
      );
      expect(decoded).toEqual({ mode: 'structured', attributes, data: payload, attributePrefix: '' });
      expect(validateAttributes(decoded.attributes).ok).toBe(true);
    }
  });

  it('takes extension attributes from top-level members, parses numeric strings and treats null as absent', () => {
    const decoded = decodeStructured(
      JSON.stringify({
        ...attributes,
        schemaversion: '1',
        attempt: 2,
        subject: null,
        other: 'x',
        data: payload,
      }),
    );
    expect(decoded.attributes).toEqual({ ...attributes, schemaversion: 1, attempt: 2 });
  });

  it('accepts ce_ headers that repeat the body, and refuses ones that contradict it', () => {
    const body = JSON.stringify({ ...attributes, data: payload });
    expect(decodeStructured(body, { ce_tenantid: 'acme', ce_schemaversion: '1' }).problem).toBeUndefined();
    expect(decodeStructured(body, { ce_tenantid: 'globex', ce_id: 'e-1' }).problem?.errors).toEqual([
      "ce_tenantid: differs from the body's tenantid",
    ]);
  });

  it('decodes data_base64 for any JSON datacontenttype and refuses the rest with the member at fault', () => {
    const encoded = Buffer.from(JSON.stringify(payload)).toString('base64');
    for (const datacontenttype of [
      undefined,
      'application/json',
      'application/vnd.acme+json; v=1',
      'text/json',
    ]) {
      expect(
        decodeStructured(JSON.stringify({ ...attributes, datacontenttype, data_base64: encoded })).data,
      ).toEqual(payload);
    }
    const problem = (extra: Record<string, unknown>) =>
      decodeStructured(JSON.stringify({ ...attributes, ...extra })).dataProblem?.errors;
    expect(problem({ datacontenttype: 'application/xml', data_base64: encoded })).toEqual([
      'datacontenttype: not JSON',
    ]);
    expect(problem({ data_base64: 'not base64!' })).toEqual(['data_base64: not base64']);
    expect(problem({ data_base64: Buffer.from([0xff, 0xfe]).toString('base64') })).toEqual([
      'data_base64: not UTF-8',
    ]);
    expect(problem({ data_base64: 42 })).toEqual(['data_base64: not base64']);
    expect(problem({ datacontenttype: 7, data: payload })).toEqual(['datacontenttype: not a string']);
  });

  it('says what the body is when it is not one JSON object', () => {
    expect(decodeStructured('"text"').problem?.errors).toEqual(['value: is a JSON string, not an object']);
    expect(decodeStructured('null').problem?.errors).toEqual(['value: is JSON null, not an object']);
    expect(decodeStructured('').problem?.errors).toEqual(['value: is not valid JSON']);
  });
});
