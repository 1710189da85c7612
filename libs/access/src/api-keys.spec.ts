import { ApiKeyConfigError, ApiKeyRegistry } from './api-keys';
import { hasRole } from './principal';

describe('ApiKeyRegistry', () => {
  const registry = ApiKeyRegistry.parse(
    'key-acme-0123456789:acme:submitter+reader:support-staff|hr|/realm/execs, key-globex-012345678:globex:admin',
  );

  it('authenticates a key to its tenant and roles', () => {
    const p = registry.authenticate('key-acme-0123456789');
    expect(p?.tenantId).toBe('acme');
    expect(p && hasRole(p, 'reader')).toBe(true);
    expect(p && hasRole(p, 'reviewer')).toBe(false);
    // Not the key nor a prefix of it: a fingerprint of its digest.
    expect(p?.id).toMatch(/^apikey-[0-9a-f]{12}$/);
    expect('key-acme-0123456789'.startsWith(p?.id.slice(0, 3) ?? 'x')).toBe(false);
    expect(p?.kind).toBe('api_key');
  });

  it('identifies a key by its configured name (fifth field), never by the key or a prefix of it', () => {
    const named = ApiKeyRegistry.parse(
      'rev-key-acme-0123456789:acme:reviewer::alice,rev-key-acme-rotated-01:acme:reviewer::alice,sub-key-acme-0123456789:acme:submitter:hr:ops-bot',
    );
    expect(named.authenticate('rev-key-acme-0123456789')).toMatchObject({ id: 'alice', groups: [] });
    // A rotated key with the same name is the same principal.
    expect(named.authenticate('rev-key-acme-rotated-01')?.id).toBe('alice');
    expect(named.authenticate('sub-key-acme-0123456789')).toMatchObject({ id: 'ops-bot', groups: ['hr'] });
    const unnamed = ApiKeyRegistry.parse('rev-key-acme-0123456789:acme:reviewer');
    const id = unnamed.authenticate('rev-key-acme-0123456789')?.id ?? '';
    expect(id).toMatch(/^apikey-[0-9a-f]{12}$/);
    expect(id).not.toContain('rev-ke');
    expect(
      ApiKeyRegistry.parse('rev-key-acme-9999999999:acme:reviewer').authenticate('rev-key-acme-9999999999')
        ?.id,
    ).not.toBe(id);
  });

  it('gives a key the groups of its fourth field, and none without it', () => {
    expect(registry.authenticate('key-acme-0123456789')?.groups).toEqual([
      'support-staff',
      'hr',
      '/realm/execs',
    ]);
    expect(registry.authenticate('key-globex-012345678')?.groups).toEqual([]);
  });

  it('lets admin act in every role and rejects unknown keys', () => {
    const admin = registry.authenticate('key-globex-012345678');
    expect(admin && hasRole(admin, 'reviewer')).toBe(true);
    expect(registry.authenticate('nope')).toBeUndefined();
    expect(registry.authenticate(undefined)).toBeUndefined();
  });

  it.each([
    ['short:acme:reader', /entry 1, field 1 \(key\): .*at least 16/],
    ['key-acme-0123456789:ACME:reader', /entry 1, field 2 \(tenant\): tenant "ACME"/],
    ['key-acme-0123456789:acme:owner', /entry 1, field 3 \(roles\): unknown role\(s\) owner/],
    [
      'key-acme-0123456789:acme',
      /entry 1 must be <key>:<tenant>:<role>\[\+<role>...\]\[:<group>\|<group>...\]\[:<name>\]/,
    ],
    ['key-acme-0123456789:acme:reader:a:b:c', /entry 1 must be/],
    ['key-acme-0123456789:acme:reader:hr:bad name', /entry 1, field 5 \(name\): not a principal name/],
    ['key-acme-0123456789:acme:reader::', /entry 1, field 5 \(name\): not a principal name/],
    [
      'key-acme-0123456789:acme:reader:hr,key-acme-9876543210:acme:reader:',
      /entry 2, field 4 \(groups\): an empty name/,
    ],
    ['key-acme-0123456789:acme:reader:hr||execs', /field 4 \(groups\): an empty name/],
    ['key-acme-0123456789:acme:reader:hr|top secret', /field 4 \(groups\): "top secret" is not a group name/],
  ])('rejects %s with a message naming the entry and field', (spec, message) => {
    expect(() => ApiKeyRegistry.parse(spec)).toThrow(ApiKeyConfigError);
    expect(() => ApiKeyRegistry.parse(spec)).toThrow(message);
  });

  it('never echoes the key in its errors', () => {
    expect(() => ApiKeyRegistry.parse('key-acme-0123456789:acme:owner')).not.toThrow(/0123456789/);
    expect(() => ApiKeyRegistry.parse('key-acme-0123456789:acme:reader:bad group')).not.toThrow(/0123456789/);
  });
});
