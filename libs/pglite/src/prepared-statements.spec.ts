import { PGlite } from '@electric-sql/pglite';
import { PglitePreparedStatements } from './prepared-statements';

// Opens PGlite (WASM) databases: seconds each on a busy 2-core box.
jest.setTimeout(120_000);

describe('PglitePreparedStatements', () => {
  let db: PGlite;
  beforeAll(async () => {
    db = await PGlite.create();
    await db.exec(`CREATE TABLE t (id int PRIMARY KEY, tags text[], payload bytea);
      INSERT INTO t VALUES (1, '{a,b}', '\\x0102'), (2, '{}', NULL)`);
  });
  afterAll(async () => {
    await db.close();
  });
  const prepared = async () =>
    (
      await db.query<{ name: string; statement: string }>(
        `SELECT name, statement FROM pg_prepared_statements`,
      )
    ).rows;

  it('gives the rows and errors the unnamed query gives', async () => {
    const statements = new PglitePreparedStatements(db);
    const text = `SELECT id, tags, cardinality(tags) AS n FROM t WHERE id = ANY($1::int[]) ORDER BY id`;
    for (let run = 0; run < 7; run++)
      expect((await statements.query(text, [[1, 2]])).rows).toEqual((await db.query(text, [[1, 2]])).rows);
    await expect(statements.query(`SELECT 1 / $1::int`, [0])).rejects.toThrow('division by zero');
    // A failed statement leaves no transaction open: the next runs.
    expect((await statements.query(`SELECT 1 / $1::int AS q`, [1])).rows).toEqual([{ q: 1 }]);
  });

  it('runs a prepared statement in one call into PostgreSQL, and after a failed one the next still runs', async () => {
    const statements = new PglitePreparedStatements(db);
    const text = `SELECT 10 / $1::int AS q`;
    await statements.query(text, [1]);
    const execProtocol = jest.spyOn(db, 'execProtocol');
    try {
      expect((await statements.query(text, [5])).rows).toEqual([{ q: 2 }]);
      // Before: bind, describe, execute and sync were four calls.
      expect(execProtocol).toHaveBeenCalledTimes(1);
      await expect(statements.query(text, [0])).rejects.toThrow('division by zero');
      await expect(statements.query(`SELECT $1::int AS n`, ['x'])).rejects.toThrow('invalid input syntax');
      expect((await statements.query(text, [2])).rows).toEqual([{ q: 5 }]);
      await db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        expect((await statements.queryInTransaction(text, [10])).rows).toEqual([{ q: 1 }]);
      });
    } finally {
      execProtocol.mockRestore();
    }
  });

  // A second instance on the same connection: its statements' names must not collide.
  it('sends a typed array as a binary parameter', async () => {
    const statements = new PglitePreparedStatements(db);
    const result = await statements.query<{ id: number }>(`SELECT id FROM t WHERE payload = $1::bytea`, [
      new Uint8Array([1, 2]),
    ]);
    expect(result.rows).toEqual([{ id: 1 }]);
  });

  it('runs inside a transaction of the connection: sees its rows, keeps its statements after a rollback', async () => {
    const statements = new PglitePreparedStatements(db);
    const insert = `INSERT INTO t (id) VALUES ($1::int) RETURNING id`;
    await expect(
      db.transaction(async () => {
        expect((await statements.queryInTransaction(insert, [10])).rows).toEqual([{ id: 10 }]);
        expect((await statements.queryInTransaction(`SELECT count(*)::int AS n FROM t`, [])).rows).toEqual([
          { n: 3 },
        ]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await db.query(`SELECT id FROM t WHERE id = 10`)).rows).toEqual([]);
    // The statement prepared in the rolled-back transaction is still there, and a database error
    // keeps its code (the audit store tells a duplicate by it).
    await expect(
      db.transaction(async () => {
        await statements.queryInTransaction(insert, [11]);
        await statements.queryInTransaction(insert, [11]);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await db.transaction(async () => {
      await statements.queryInTransaction(insert, [12]);
    });
    expect((await db.query(`SELECT id FROM t WHERE id >= 10 ORDER BY id`)).rows).toEqual([{ id: 12 }]);
    expect((await prepared()).filter((p) => p.statement.startsWith('INSERT INTO t'))).toHaveLength(1);
    await db.query(`DELETE FROM t WHERE id >= 10`);
  });

  it('keeps at most maxStatements prepared, closing the least recently used', async () => {
    await db.exec('DEALLOCATE ALL');
    const statements = new PglitePreparedStatements(db, undefined, 2);
    const texts = [1, 2, 3].map((n) => `SELECT ${n} + $1::int AS v`);
    await statements.query(texts[0], [0]);
    await statements.query(texts[1], [0]);
    await statements.query(texts[0], [0]);
    await statements.query(texts[2], [0]);
    expect(statements.preparedTexts()).toEqual([texts[0], texts[2]]);
    expect((await prepared()).map((p) => p.statement).sort()).toEqual([texts[0], texts[2]].sort());
    // The closed one is prepared again when asked for.
    expect((await statements.query<{ v: number }>(texts[1], [1])).rows).toEqual([{ v: 3 }]);
  });

  it('answers handles for the texts it was given, or for any text when given none', () => {
    expect(new PglitePreparedStatements(db, ['SELECT 1']).handles('SELECT 2')).toBe(false);
    expect(new PglitePreparedStatements(db, ['SELECT 1']).handles('SELECT 1')).toBe(true);
    expect(new PglitePreparedStatements(db).handles('SELECT 2')).toBe(true);
  });
});
