export * from './env';
export * from './platform-config';
export * from './identity-config';
