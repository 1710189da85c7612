import { createHash, timingSafeEqual } from 'node:crypto';
import { TENANT_PATTERN, truncateText } from '@llmbus/contracts';
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

const FORMAT = '<key>:<tenant>:<role>[+<role>...][:<group>|<group>...]';
const EXAMPLE = 's3cr3t-key-0123456:acme:submitter+reader:support-staff|hr';

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function parseGroups(field: string | undefined, where: string): string[] {
  if (field === undefined) return [];
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
 * API keys with tenant, roles and groups. Keys are kept only as SHA-256 digests and compared in
 * constant time; the key id (first 6 characters) is what logs may show.
 */
export class ApiKeyRegistry {
  private constructor(private readonly entries: readonly KeyEntry[]) {}

  /**
   * Parses `API_KEYS`: entries separated by `,`, each
   * `<key>:<tenant>:<role>[+<role>...][:<group>|<group>...]`, e.g.
   * `k3y...:acme:submitter+reader:support-staff|hr`. Keys need at least 16 characters; without the
   * groups field a key acts for no group. Throws ApiKeyConfigError naming the entry (1-based) and
   * field, never echoing the key.
   */
  static parse(spec: string): ApiKeyRegistry {
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry, index) => {
        const parts = entry.split(':');
        const where = `API_KEYS entry ${index + 1}`;
        if (parts.length !== 3 && parts.length !== 4) {
          throw new ApiKeyConfigError(`${where} must be ${FORMAT}, e.g. ${EXAMPLE}`);
        }
        const [key, tenantId, roleList, groupList] = parts;
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
        const principal: Principal = {
          id: `${truncateText(key, 6)}…`,
          kind: 'api_key',
          tenantId,
          roles: new Set(roles as Role[]),
          groups: parseGroups(groupList, where),
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
