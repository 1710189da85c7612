export * from './dataset';
export * from './eval-runner';
export * from './evaluate';
export * from './html-report';
export * from './metrics';
export * from './scripted-model-server';
