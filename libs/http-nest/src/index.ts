export * from './auth.guard';
export * from './ops.controllers';
export * from './http-logging';
export * from './storable-text.pipe';
export * from './openapi';
export * from './error-body.filter';
