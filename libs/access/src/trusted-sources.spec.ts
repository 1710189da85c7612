import { TrustedSources, TrustedSourcesConfigError } from './trusted-sources';

describe('TrustedSources', () => {
  const rules = TrustedSources.parse(' /helpdesk=acme|globex , /alerts=acme, /gateway=* ');

  it('allows a listed source only the tenants listed for it', () => {
    expect(rules.check('/helpdesk', 'globex')).toEqual({ allowed: true });
    expect(rules.check('/alerts', 'globex')).toEqual({
      allowed: false,
      reason: 'tenant_not_allowed',
      tenants: ['acme'],
    });
    expect(rules.check('/gateway', 'anyone')).toEqual({ allowed: true });
    expect(rules.check('/unknown', 'acme')).toEqual({ allowed: false, reason: 'unlisted_source' });
  });

  it('adds a default source unless the rules already name it', () => {
    expect(rules.withDefault('/llmbus/ingress', ['*']).check('/llmbus/ingress', 'x')).toEqual({
      allowed: true,
    });
    const named = TrustedSources.parse('/llmbus/ingress=acme').withDefault('/llmbus/ingress', ['*']);
    expect(named.check('/llmbus/ingress', 'globex')).toMatchObject({ allowed: false });
  });

  it.each([
    ['/helpdesk', /entry 1 must be <source>=<tenant>/],
    ['/a=acme,=acme', /entry 2 must be/],
    ['/a b=acme', /entry 1 must be/],
    ['/a=acme,/a=globex', /entry 2: source "\/a" is listed twice/],
    ['/a=Acme', /entry 1: "Acme" is not a tenant id/],
    ['/a=acme|', /entry 1: an empty name is not a tenant id/],
    [' , ', /no entry/],
  ])('rejects %j naming the entry', (spec, message) => {
    expect(() => TrustedSources.parse(spec)).toThrow(TrustedSourcesConfigError);
    expect(() => TrustedSources.parse(spec)).toThrow(message);
  });
});
