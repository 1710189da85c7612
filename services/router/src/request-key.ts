/**
 * The key of one tenant's request in the router's in-process maps: tenant and request id joined by
 * U+0000, which neither may contain, so no two pairs share a key and another tenant's request with
 * the same id is another entry.
 */
export function requestKey(tenantId: string, requestId: string): string {
  return `${tenantId}\u0000${requestId}`;
}
