import type { Principal } from './principal';

/** Most groups one request carries (the contracts' Requester limit). */
export const MAX_REQUEST_GROUPS = 100;

/** Who a request is made for, as the HTTP ingress publishes it (contracts' Requester). */
export interface RequesterIdentity {
  readonly userId: string;
  readonly groups: string[];
}

/** A request names an identity its principal may not act for (HTTP 403) or too many groups (400). */
export class RequesterIdentityError extends Error {
  constructor(
    readonly code: 'forbidden_groups' | 'forbidden_user' | 'too_many_groups',
    message: string,
    /** The group names or user id at fault. */
    readonly refused: readonly string[],
  ) {
    super(message);
    this.name = 'RequesterIdentityError';
  }
}

/**
 * The requester of an HTTP-submitted request, from the principal. The body may narrow the groups
 * to a subset of the principal's (least privilege) and may repeat its user id; it can never add a
 * group or speak for another user. Without `groups` the request carries all of the principal's.
 * Throws RequesterIdentityError: `forbidden_groups` naming the groups not granted,
 * `forbidden_user` when `userId` is not the principal's id, `too_many_groups` when the principal's
 * groups exceed what one request may carry and the body does not choose among them.
 */
export function requesterFor(
  principal: Principal,
  claimed: { readonly userId?: string; readonly groups?: readonly string[] } | undefined,
): RequesterIdentity {
  if (claimed?.userId !== undefined && claimed.userId !== principal.id) {
    throw new RequesterIdentityError(
      'forbidden_user',
      `requester.userId must be the caller's own id ("${principal.id}") or be left out; a request cannot be made on behalf of another user`,
      [claimed.userId],
    );
  }
  if (claimed?.groups === undefined) {
    if (principal.groups.length > MAX_REQUEST_GROUPS) {
      throw new RequesterIdentityError(
        'too_many_groups',
        `this principal (${principal.id}) acts for ${principal.groups.length} groups; a request carries at most ${MAX_REQUEST_GROUPS}: name the ones it needs in requester.groups`,
        [],
      );
    }
    return { userId: principal.id, groups: [...principal.groups] };
  }
  const granted = new Set(principal.groups);
  const refused = [...new Set(claimed.groups.filter((g) => !granted.has(g)))];
  if (refused.length) {
    throw new RequesterIdentityError(
      'forbidden_groups',
      `this principal (${principal.id}) may not act for group(s) ${refused.map((g) => `"${g}"`).join(', ')}; ` +
        `its groups are ${principal.groups.length ? principal.groups.map((g) => `"${g}"`).join(', ') : 'none'}. ` +
        'Leave requester.groups out to act for all of them, or grant the group to the API key or token',
      refused,
    );
  }
  return { userId: principal.id, groups: [...new Set(claimed.groups)] };
}
