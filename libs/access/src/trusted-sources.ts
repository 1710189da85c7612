import { TENANT_PATTERN } from '@llmbus/contracts';

/** Any tenant, in a trusted-sources entry. */
export const ANY_TENANT = '*';

export class TrustedSourcesConfigError extends Error {
  readonly code = 'invalid_trusted_sources';
}

/** Why a source may not assert a tenant. */
export type SourceVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'unlisted_source' }
  | { readonly allowed: false; readonly reason: 'tenant_not_allowed'; readonly tenants: readonly string[] };

const SOURCE_PATTERN = /^[^\s,=|]{1,500}$/;

/**
 * Which CloudEvents `source` may assert which tenants on the request topic. The source attribute
 * is whatever the producer wrote: this is policy over trusted producers, not authentication
 * (Kafka ACLs decide who may produce at all).
 */
export class TrustedSources {
  private constructor(private readonly tenantsBySource: ReadonlyMap<string, ReadonlySet<string>>) {}

  /**
   * Parses `<source>=<tenant>|<tenant>...` entries separated by `,`, e.g.
   * `/helpdesk=acme|globex,/alerts=acme`; `*` as a tenant allows every tenant. Throws
   * TrustedSourcesConfigError naming the entry (1-based) and what is wrong.
   */
  static parse(spec: string): TrustedSources {
    const map = new Map<string, ReadonlySet<string>>();
    const entries = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    entries.forEach((entry, index) => {
      const where = `entry ${index + 1}`;
      const eq = entry.indexOf('=');
      const source = eq < 0 ? entry : entry.slice(0, eq).trim();
      if (eq < 0 || !SOURCE_PATTERN.test(source)) {
        throw new TrustedSourcesConfigError(
          `${where} must be <source>=<tenant>|<tenant>..., e.g. /helpdesk=acme|globex (the source without spaces, ",", "=" or "|")`,
        );
      }
      if (map.has(source))
        throw new TrustedSourcesConfigError(`${where}: source "${source}" is listed twice`);
      const tenants = entry
        .slice(eq + 1)
        .split('|')
        .map((t) => t.trim());
      const bad = tenants.filter((t) => t !== ANY_TENANT && !TENANT_PATTERN.test(t));
      if (bad.length) {
        throw new TrustedSourcesConfigError(
          `${where}: ${bad.map((t) => (t ? `"${t}"` : 'an empty name')).join(', ')} is not a tenant id ` +
            '(lowercase letters, digits, "-" or "_") or "*" (every tenant)',
        );
      }
      map.set(source, new Set(tenants));
    });
    if (map.size === 0)
      throw new TrustedSourcesConfigError('no entry: expected <source>=<tenant>|<tenant>...');
    return new TrustedSources(map);
  }

  /** These rules plus `source` allowed `tenants`, unless the rules already name that source. */
  withDefault(source: string, tenants: readonly string[]): TrustedSources {
    if (this.tenantsBySource.has(source)) return this;
    return new TrustedSources(new Map([...this.tenantsBySource, [source, new Set(tenants)]]));
  }

  /** Whether events from `source` may assert `tenant`. */
  check(source: string, tenant: string): SourceVerdict {
    const tenants = this.tenantsBySource.get(source);
    if (!tenants) return { allowed: false, reason: 'unlisted_source' };
    if (tenants.has(ANY_TENANT) || tenants.has(tenant)) return { allowed: true };
    return { allowed: false, reason: 'tenant_not_allowed', tenants: [...tenants] };
  }

  /** The listed sources, for start-up logs. */
  get sources(): readonly string[] {
    return [...this.tenantsBySource.keys()];
  }
}
