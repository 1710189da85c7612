// Tiers, each runnable on its own: unit (no I/O), deploy (the Helm chart, offline), integration
// (real broker, Postgres, models), e2e (the whole pipeline). Integration and e2e share one
// globalSetup that finds or starts services.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

// PGlite's CommonJS build loads Node built-ins with `await import()`, which Jest's VM rejects
// without --experimental-vm-modules; compiling it to require() lets it run under Jest. jose is
// ESM-only (Node loads it with require(esm), Jest's VM cannot), so it is compiled the same way, as
// is @apidevtools/json-schema-ref-parser (under @apidevtools/swagger-parser), and @platformatic/kafka
// with its ESM-only @platformatic/* dependencies.
const toCommonJs = ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }];

const moduleNameMapper = {
  '^@llmbus/contracts$': '<rootDir>/contracts/src/index.ts',
  '^@llmbus/svc-(.*)$': '<rootDir>/services/$1/src/index.ts',
  '^@llmbus/(.*)$': '<rootDir>/libs/$1/src/index.ts',
};

const common = {
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': swc,
    '^.+/@electric-sql/pglite/dist/.+\\.cjs$': toCommonJs,
    '^.+/node_modules/jose/dist/.+\\.js$': toCommonJs,
    '^.+/node_modules/@apidevtools/json-schema-ref-parser/dist/.+\\.js$': toCommonJs,
    '^.+/node_modules/@platformatic/.+\\.js$': toCommonJs,
    // The console's browser modules (checked in as plain ES modules), for their unit tests.
    '^.+/services/auditor/console/.+\\.js$': toCommonJs,
  },
  transformIgnorePatterns: [
    '/node_modules/(?!@electric-sql/pglite/|jose/|@apidevtools/json-schema-ref-parser/|@platformatic/)',
  ],
  moduleNameMapper,
  testEnvironment: 'node',
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  setupFiles: ['reflect-metadata'],
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      // PGlite (WebAssembly Postgres) takes seconds to open on a busy 2-core machine.
      setupFilesAfterEnv: ['<rootDir>/test/support/unit-timeout.ts'],
      testMatch: ['<rootDir>/{contracts,libs,services}/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
    },
    {
      // The Helm chart rendered by a real helm and validated offline (needs the tools that
      // `node scripts/validate-k8s.mjs --install-only` caches; skipped without them outside CI).
      ...common,
      displayName: 'deploy',
      testMatch: ['<rootDir>/test/deploy/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      // Behaviour of the weak local chat model in the tool loop, the IT runbook and the verifier:
      // minutes per test on 2 CPU cores, so `npm run test:local-models`, not `npm test`.
      ...common,
      displayName: 'local-models',
      testMatch: ['<rootDir>/test/local-models/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      // The fault suite restarts Kafka and PostgreSQL: `npm run test:chaos` (scripts/run-chaos.mjs)
      // starts a broker and a database of its own for it, so it has no globalSetup here.
      ...common,
      displayName: 'chaos',
      testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
    },
  ],
};
