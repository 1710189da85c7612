import { ApiKeyConfigError, ApiKeyRegistry, hasRole } from './api-keys';

describe('ApiKeyRegistry', () => {
  const registry = ApiKeyRegistry.parse(
    'key-acme-0123456789:acme:submitter+reader, key-globex-012345678:globex:admin',
  );

  it('authenticates a key to its tenant and roles', () => {
    const p = registry.authenticate('key-acme-0123456789');
    expect(p?.tenantId).toBe('acme');
    expect(p && hasRole(p, 'reader')).toBe(true);
    expect(p && hasRole(p, 'reviewer')).toBe(false);
    expect(p?.keyId).toBe('key-ac…');
  });

  it('lets admin act in every role and rejects unknown keys', () => {
    const admin = registry.authenticate('key-globex-012345678');
    expect(admin && hasRole(admin, 'reviewer')).toBe(true);
    expect(registry.authenticate('nope')).toBeUndefined();
    expect(registry.authenticate(undefined)).toBeUndefined();
  });

  it.each([
    ['short:acme:reader', /at least 16/],
    ['key-acme-0123456789:ACME:reader', /tenant "ACME"/],
    ['key-acme-0123456789:acme:owner', /unknown role\(s\) owner/],
    ['key-acme-0123456789:acme', /must be <key>:<tenant>:<role>/],
  ])('rejects %s with a message naming what to fix', (spec, message) => {
    expect(() => ApiKeyRegistry.parse(spec)).toThrow(ApiKeyConfigError);
    expect(() => ApiKeyRegistry.parse(spec)).toThrow(message);
  });
});
