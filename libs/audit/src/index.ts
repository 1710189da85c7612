export * from './audit-store';
export { REQUEST_STATES, type RequestState, type RequestStatusView } from './request-status';
export * from './audit-columns';
export * from './record-errors';
export * from './migrations';
export * from './sql-client';
export * from './sql-audit-store';
export * from './postgres-audit-store';
export * from './pglite-audit-store';
