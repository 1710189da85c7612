export * from './cache-store';
export * from './memory-cache';
export * from './redis-cache';
