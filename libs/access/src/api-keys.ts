import { createHash, timingSafeEqual } from 'node:crypto';
import { TENANT_PATTERN } from '@llmbus/contracts';

/** What a caller may do on the HTTP surfaces. */
export const ROLES = ['submitter', 'reader', 'reviewer', 'pii-reader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller: one tenant, some roles. */
export interface Principal {
  readonly keyId: string;
  readonly tenantId: string;
  readonly roles: ReadonlySet<Role>;
}

interface KeyEntry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

export class ApiKeyConfigError extends Error {
  readonly code = 'invalid_api_keys';
}

const MIN_KEY_LENGTH = 16;

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * API keys with tenant and roles. Keys are kept only as SHA-256 digests and compared in constant
 * time; the key id (first 6 characters) is what logs may show.
 */
export class ApiKeyRegistry {
  private constructor(private readonly entries: readonly KeyEntry[]) {}

  /**
   * Parses `API_KEYS`: entries separated by `,`, each `<key>:<tenant>:<role>[+<role>...]`,
   * e.g. `k3y...:acme:submitter+reader`. Keys need at least 16 characters.
   */
  static parse(spec: string): ApiKeyRegistry {
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry, index) => {
        const parts = entry.split(':');
        const where = `API_KEYS entry ${index + 1}`;
        if (parts.length !== 3) {
          throw new ApiKeyConfigError(
            `${where} must be <key>:<tenant>:<role>[+<role>...], e.g. s3cr3t-key-0123456:acme:submitter+reader`,
          );
        }
        const [key, tenantId, roleList] = parts;
        if (key.length < MIN_KEY_LENGTH)
          throw new ApiKeyConfigError(`${where}: the key must have at least ${MIN_KEY_LENGTH} characters`);
        if (!TENANT_PATTERN.test(tenantId)) {
          throw new ApiKeyConfigError(
            `${where}: tenant "${tenantId}" must be lowercase letters, digits, "-" or "_"`,
          );
        }
        const roles = roleList.split('+').map((r) => r.trim());
        const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
        if (unknown.length || roles.length === 0) {
          throw new ApiKeyConfigError(
            `${where}: unknown role(s) ${unknown.join(', ')}; roles are ${ROLES.join(', ')}`,
          );
        }
        return {
          digest: digest(key),
          principal: { keyId: `${key.slice(0, 6)}…`, tenantId, roles: new Set(roles as Role[]) },
        };
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

/** True when the principal holds the role (admin holds every role). */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.has(role) || principal.roles.has('admin');
}
