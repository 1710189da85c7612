export * from './platform';
export * from './outcome-watcher';
export * from './sample-documents';
export * from './evaluation';
