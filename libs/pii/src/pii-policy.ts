import { PII_ENTITY_TYPES, type PiiEntityType } from './pii-detector';

/**
 * What happens to an entity: `mask` replaces it with a stable placeholder (`<PERSON_1>`) that can
 * be restored within the request; `redact` replaces it with `[PERSON redacted]`, for good;
 * `allow` keeps the value.
 */
export const PII_ACTIONS = ['mask', 'redact', 'allow'] as const;
export type PiiAction = (typeof PII_ACTIONS)[number];

/** Where a policy applies: prompts to untrusted models, published outputs, the audit trail. */
export const PII_CHANNELS = ['prompts', 'outputs', 'audit'] as const;
export type PiiChannel = (typeof PII_CHANNELS)[number];

/** One channel as written in a workflow file: a `default` action and per-type overrides. */
export type PiiChannelSpec = Readonly<Partial<Record<PiiEntityType | 'default', PiiAction>>>;
/** Channels of a policy; every one is optional. */
export type PiiChannelsSpec = Readonly<Partial<Record<PiiChannel, PiiChannelSpec>>>;
/** The `pii` section of a workflow file: its channels, and per-tenant overrides of them. */
export type PiiPolicySpec = PiiChannelsSpec & {
  readonly tenants?: Readonly<Record<string, PiiChannelsSpec>>;
};

/** The action for every entity type, per channel. */
export type PiiActions = Readonly<Record<PiiEntityType, PiiAction>>;
export type PiiPolicy = Readonly<Record<PiiChannel, PiiActions>>;

/**
 * The platform's defaults: prompts to untrusted models mask everything; outputs get the values
 * back except card numbers and credentials, which are never published; the audit trail stores
 * masked text.
 */
export const DEFAULT_PII_POLICY_SPEC: Readonly<Record<PiiChannel, PiiChannelSpec>> = {
  prompts: { default: 'mask' },
  outputs: { default: 'allow', PAYMENT_CARD: 'redact', API_KEY: 'redact', BEARER_TOKEN: 'redact' },
  audit: { default: 'mask' },
};

/**
 * A workflow's policy for a tenant, with the defaults filled in. Layers, each over the one before:
 * the platform defaults, the workflow's channels, the tenant's overrides (`tenants.<id>`). A layer
 * whose channel sets its own `default` replaces what is below for that channel; one that does not
 * overrides only the types it lists.
 */
export function resolvePiiPolicy(spec: PiiPolicySpec = {}, tenantId?: string): PiiPolicy {
  const tenant = tenantId === undefined ? undefined : spec.tenants?.[tenantId];
  const channel = (name: PiiChannel): PiiActions => {
    const merged = [spec[name], tenant?.[name]].reduce<PiiChannelSpec>(
      (below, layer) =>
        layer === undefined ? below : { ...(layer.default === undefined ? below : {}), ...layer },
      DEFAULT_PII_POLICY_SPEC[name],
    );
    return Object.fromEntries(
      PII_ENTITY_TYPES.map((type) => [type, merged[type] ?? merged.default ?? 'mask']),
    ) as Record<PiiEntityType, PiiAction>;
  };
  return { prompts: channel('prompts'), outputs: channel('outputs'), audit: channel('audit') };
}

/** True when every type is allowed: nothing to detect. */
export function allowsAll(actions: PiiActions): boolean {
  return PII_ENTITY_TYPES.every((type) => actions[type] === 'allow');
}
