import { PostgresAuditStore } from './postgres-audit-store';

// The schema name goes into each connection's startup options (`-c search_path=<schema>`), so a
// name with a space would add server settings of its own. Nothing connects here: the checks run
// before the first query.
describe('PostgresAuditStore schema names', () => {
  const connectionString = 'postgres://nobody@127.0.0.1:1/none';

  it.each(['x -c default_transaction_read_only=off', 'public"; drop table audit_events; --', 'Audit'])(
    'refuses the schema %j for a reader, naming the rule',
    (schema) => {
      expect(() => PostgresAuditStore.reader({ connectionString, schema })).toThrow(
        `audit schema ${JSON.stringify(schema)} must be lowercase letters, digits or "_" (at most 63)`,
      );
    },
  );

  it('refuses it before connecting when opening a store', async () => {
    await expect(PostgresAuditStore.open({ connectionString, schema: 'x -c a=b' })).rejects.toThrow(
      'audit schema "x -c a=b" must be lowercase letters',
    );
  });

  it('takes a schema name that is an identifier', async () => {
    const store = PostgresAuditStore.reader({ connectionString, schema: 'audit_test_01' });
    await store.close();
  });
});
