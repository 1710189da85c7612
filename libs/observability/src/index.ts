export * from './logger';
export * from './log-format';
