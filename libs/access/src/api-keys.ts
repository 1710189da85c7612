import { createHash, timingSafeEqual } from 'node:crypto';
import { TENANT_PATTERN } from '@llmbus/contracts';
import { isRole, Principal, Role, ROLES } from './principal';

interface KeyEntry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

export class ApiKeyConfigError extends Error {
  readonly code = 'invalid_api_keys';
}

const MIN_KEY_LENGTH = 16;

/**
 * A group an API key may act for: 1-200 letters, digits, ".", "_", "@", "/" or "-". The
 * separators of API_KEYS (",", ":", "+", "|") and whitespace cannot appear in it.
 */
export const GROUP_NAME_PATTERN = /^[A-Za-z0-9_.@/-]{1,200}$/;

/**
 * The name an API key's principal is known by (audit trail, reviewer, `requester.userId`): 1-100
 * letters, digits, ".", "_", "@" or "-", starting with a letter or digit.
 */
export const PRINCIPAL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/;

const FORMAT = '<key>:<tenant>:<role>[+<role>...][:<group>|<group>...][:<name>]';
const EXAMPLE = 's3cr3t-key-0123456:acme:submitter+reader:support-staff|hr:alice';

/**
 * The id of a key without a configured name: `apikey-` and 12 hex digits of the key's SHA-256,
 * stable across restarts and distinct per key, yet neither the key nor any part of it.
 */
export function apiKeyFingerprint(key: string): string {
  return `apikey-${digest(key).toString('hex').slice(0, 12)}`;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function parseGroups(field: string | undefined, where: string, named: boolean): string[] {
  if (field === undefined) return [];
  // `<key>:<tenant>:<roles>::<name>`: a named key that acts for no group.
  if (field === '' && named) return [];
  const groups = field.split('|').map((g) => g.trim());
  const bad = groups.filter((g) => !GROUP_NAME_PATTERN.test(g));
  if (bad.length) {
    throw new ApiKeyConfigError(
      `${where}, field 4 (groups): ${bad.map((g) => (g ? `"${g}"` : 'an empty name')).join(', ')} ` +
        `is not a group name; groups are separated by "|" and use 1-200 letters, digits, ".", "_", "@", "/" or "-" ` +
        `(omit the field for a key that acts for no group)`,
    );
  }
  return [...new Set(groups)];
}

/**
 * API keys with tenant, roles, groups and the name of their principal. Keys are kept only as
 * SHA-256 digests and compared in constant time; the principal id (the configured name, else a
 * fingerprint of the key's digest) is what logs, the audit trail and reviewers show.
 */
export class ApiKeyRegistry {
  private constructor(private readonly entries: readonly KeyEntry[]) {}

  /**
   * Parses `API_KEYS`: entries separated by `,`, each
   * `<key>:<tenant>:<role>[+<role>...][:<group>|<group>...][:<name>]`, e.g.
   * `k3y...:acme:submitter+reader:support-staff|hr:alice`. Keys need at least 16 characters; without
   * the groups field (or with it empty before a name) a key acts for no group; `name` is the
   * principal's id (keys sharing a name and tenant are one principal), else `apiKeyFingerprint`.
   * Throws ApiKeyConfigError naming the entry (1-based) and field, never echoing the key.
   */
  static parse(spec: string): ApiKeyRegistry {
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry, index) => {
        const parts = entry.split(':');
        const where = `API_KEYS entry ${index + 1}`;
        if (parts.length < 3 || parts.length > 5) {
          throw new ApiKeyConfigError(`${where} must be ${FORMAT}, e.g. ${EXAMPLE}`);
        }
        const [key, tenantId, roleList, groupList, name] = parts;
        if (key.length < MIN_KEY_LENGTH)
          throw new ApiKeyConfigError(
            `${where}, field 1 (key): the key must have at least ${MIN_KEY_LENGTH} characters`,
          );
        if (!TENANT_PATTERN.test(tenantId)) {
          throw new ApiKeyConfigError(
            `${where}, field 2 (tenant): tenant "${tenantId}" must be lowercase letters, digits, "-" or "_"`,
          );
        }
        const roles = roleList.split('+').map((r) => r.trim());
        const unknown = roles.filter((r) => !isRole(r));
        if (unknown.length || roles.length === 0) {
          throw new ApiKeyConfigError(
            `${where}, field 3 (roles): unknown role(s) ${unknown.join(', ')}; roles are ${ROLES.join(', ')}`,
          );
        }
        if (name !== undefined && !PRINCIPAL_NAME_PATTERN.test(name)) {
          throw new ApiKeyConfigError(
            `${where}, field 5 (name): not a principal name; use 1-100 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`,
          );
        }
        if (name !== undefined && name === key) {
          throw new ApiKeyConfigError(`${where}, field 5 (name): the name must not be the key itself`);
        }
        const principal: Principal = {
          id: name ?? apiKeyFingerprint(key),
          kind: 'api_key',
          tenantId,
          roles: new Set(roles as Role[]),
          groups: parseGroups(groupList, where, name !== undefined),
        };
        return { digest: digest(key), principal };
      });
    return new ApiKeyRegistry(entries);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The principal of a presented key, or undefined when no key matches. */
  authenticate(presented: string | undefined): Principal | undefined {
    if (!presented) return undefined;
    const d = digest(presented);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      // Compare against every entry so timing does not tell how many keys matched a prefix.
      if (timingSafeEqual(entry.digest, d)) found = entry.principal;
    }
    return found;
  }
}
