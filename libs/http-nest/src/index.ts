export * from './auth.guard';
export * from './ops.controllers';
export * from './http-logging';
