import { claimValue, principalFromClaims } from './oidc-claims';
import { AuthenticationError } from './principal';

const mapping = { tenantClaim: 'tenant', rolesClaim: 'roles', groupsClaim: 'groups' };

describe('principalFromClaims', () => {
  it('maps sub, tenant, roles and groups, ignoring roles llmbus does not know', () => {
    const p = principalFromClaims(
      { sub: 'user-1', tenant: 'acme', roles: ['reader', 'offline_access'], groups: ['hr', 'hr', 'staff'] },
      mapping,
    );
    expect(p).toEqual({
      id: 'user-1',
      kind: 'jwt',
      tenantId: 'acme',
      roles: new Set(['reader']),
      groups: ['hr', 'staff'],
    });
  });

  it('reads configured claim names, namespaced URLs and dotted paths (Keycloak realm roles)', () => {
    const p = principalFromClaims(
      {
        sub: 'u',
        'https://llmbus.example/tenant': 'globex',
        realm_access: { roles: ['submitter', 'uma_authorization'] },
        grp: ['/execs'],
      },
      { tenantClaim: 'https://llmbus.example/tenant', rolesClaim: 'realm_access.roles', groupsClaim: 'grp' },
    );
    expect(p.tenantId).toBe('globex');
    expect([...p.roles]).toEqual(['submitter']);
    expect(p.groups).toEqual(['/execs']);
  });

  it('accepts roles as one space-separated string and no roles or groups at all', () => {
    expect([
      ...principalFromClaims({ sub: 'u', tenant: 'acme', roles: 'reader reviewer' }, mapping).roles,
    ]).toEqual(['reader', 'reviewer']);
    const bare = principalFromClaims({ sub: 'u', tenant: 'acme' }, mapping);
    expect(bare.roles.size).toBe(0);
    expect(bare.groups).toEqual([]);
  });

  it.each([
    [{ tenant: 'acme' }, /"sub" claim/],
    [{ sub: 'u' }, /"tenant" claim \(tenant\) must be/],
    [{ sub: 'u', tenant: 'ACME' }, /"tenant" claim/],
    [{ sub: 'u', tenant: '_none' }, /"tenant" claim/],
    [{ sub: 'u', tenant: ['acme'] }, /"tenant" claim/],
    [{ sub: 'u', tenant: 'acme', groups: 'hr' }, /"groups" claim \(groups\) must be an array/],
    [{ sub: 'u', tenant: 'acme', groups: ['hr', 7] }, /"groups" claim/],
    [{ sub: 'u', tenant: 'acme', roles: { admin: true } }, /"roles" claim \(roles\)/],
  ])('refuses %j as an invalid token without echoing values', (claims, message) => {
    expect(() => principalFromClaims(claims, mapping)).toThrow(AuthenticationError);
    expect(() => principalFromClaims(claims, mapping)).toThrow(message);
    expect(() => principalFromClaims(claims, mapping)).not.toThrow(/ACME|_none/);
  });
});

describe('claimValue', () => {
  it('prefers an exact claim name over a dotted path', () => {
    expect(claimValue({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(claimValue({ a: { b: 2 } }, 'a.b')).toBe(2);
    expect(claimValue({ a: [{ b: 2 }] }, 'a.0.b')).toBeUndefined();
    expect(claimValue({}, 'constructor')).toBeUndefined();
  });
});
