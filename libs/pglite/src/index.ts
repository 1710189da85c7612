export * from './prepared-statements';
