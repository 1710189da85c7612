export * from './process-runtime';
export * from './request-replay';
