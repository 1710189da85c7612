import type { Schemas } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };
import type { DocumentDeletion, PointFilter, Scope } from '../vector-store';

export type QdrantFilter = Schemas['Filter'];
type Condition = Schemas['Condition'];

/** Payload indexes every store collection gets: the fields the filters below match on. */
export const QDRANT_PAYLOAD_INDEXES: readonly { field: string; schema: 'keyword' | 'integer' }[] = [
  { field: 'tenant', schema: 'keyword' },
  { field: 'collection', schema: 'keyword' },
  { field: 'aclGroups', schema: 'keyword' },
  { field: 'documentId', schema: 'keyword' },
  { field: 'version', schema: 'integer' },
  { field: 'chunkIndex', schema: 'integer' },
  // Withdrawn documents' link points (no vectors) are looked up by it at every query.
  { field: 'withdrawn.tenant', schema: 'keyword' },
];

function keyword(key: string, value: string): Condition {
  return { key, match: { value } };
}

function anyOf(key: string, values: readonly string[]): Condition {
  return { key, match: { any: [...values] } };
}

/** Readable by the groups: no ACL groups (public within the tenant), or at least one shared. */
export function readableBy(groups: readonly string[]): Condition {
  const should: Condition[] = [{ is_empty: { key: 'aclGroups' } }];
  if (groups.length > 0) should.push(anyOf('aclGroups', groups));
  return { should };
}

/** Tenant and logical collections; with groups, also the ACL condition. */
export function scopeFilter(
  scope: Pick<Scope, 'tenant' | 'collections'>,
  groups?: readonly string[],
): QdrantFilter {
  const must: Condition[] = [keyword('tenant', scope.tenant), anyOf('collection', scope.collections)];
  if (groups) must.push(readableBy(groups));
  return { must };
}

/** The conditions of a count. */
export function pointFilter(filter: PointFilter): QdrantFilter {
  const must: Condition[] = [keyword('tenant', filter.tenant)];
  if (filter.ids) must.push({ has_id: [...filter.ids] });
  if (filter.collections) must.push(anyOf('collection', filter.collections));
  if (filter.documentId !== undefined) must.push(keyword('documentId', filter.documentId));
  if (filter.groups) must.push(readableBy(filter.groups));
  return { must };
}

/** A document's points in a tenant, except the kept version's first `chunkCount` chunks. */
export function deletionFilter(deletion: DocumentDeletion): QdrantFilter {
  const filter: QdrantFilter = {
    must: [keyword('tenant', deletion.tenant), keyword('documentId', deletion.documentId)],
  };
  if (deletion.collection !== undefined)
    (filter.must as Condition[]).push(keyword('collection', deletion.collection));
  if (deletion.keep) {
    filter.must_not = [
      {
        must: [
          { key: 'version', match: { value: deletion.keep.version } },
          { key: 'chunkIndex', range: { lt: deletion.keep.chunkCount } },
        ],
      },
    ];
  }
  return filter;
}

/** A document's points in a tenant. */
export function documentFilter(tenant: string, documentId: string): QdrantFilter {
  return { must: [keyword('tenant', tenant), keyword('documentId', documentId)] };
}
