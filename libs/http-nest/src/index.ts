export * from './api-key.guard';
export * from './ops.controllers';
