export * from './api-keys';
export * from './authenticator';
export * from './jwt-verifier';
export * from './oidc-claims';
export * from './principal';
export * from './requester-identity';
export * from './trusted-sources';
