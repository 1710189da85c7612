export * from './bus-server';
export * from './pass-through.filter';
export * from './stage-app';
export * from './http-body-limit';
export * from './stage-nest-logger';
