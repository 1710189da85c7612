export * from './logger';
export * from './log-format';
export * from './tracing';
