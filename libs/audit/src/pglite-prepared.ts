import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';

/**
 * Statements run on PGlite as named prepared statements: parsed, analysed and planned once per
 * connection rather than at every call. PGlite's `query` sends each statement unnamed, and the
 * planning of the request-status read (asked twice per request by a long poll) was most of its
 * cost: 1.04 ms of CPU per read unnamed, 0.29 ms prepared, same rows. PostgreSQL revalidates a
 * prepared statement's plan itself when the tables it reads change.
 *
 * Runs under PGlite's own transaction and query locks (as `query` does), so its protocol
 * messages never interleave with another statement's; never inside a transaction of this
 * connection (the caller waits for it, as `query` would).
 */
export class PglitePreparedStatements {
  /** Parameter type oids of each prepared statement, by its SQL text. */
  private readonly prepared = new Map<string, { name: string; types: number[] }>();
  /** Names are never reused: a statement parsed but not described keeps its name in the session. */
  private named = 0;

  constructor(
    private readonly db: PGlite,
    /** The SQL texts to prepare; any other text is not one of these statements. */
    private readonly texts: readonly string[],
  ) {}

  /** Whether `text` is run prepared. */
  handles(text: string): boolean {
    return this.texts.includes(text);
  }

  /** Runs `text` (one of `texts`) with `params`; rows parsed as `query` parses them. Errors as `query` throws them. */
  query<R>(text: string, params: readonly unknown[]): Promise<Results<R>> {
    return this.db._runExclusiveTransaction(() =>
      this.db._runExclusiveQuery(async () => {
        const statement = this.prepared.get(text) ?? (await this.prepare(text));
        const values = params.map((value, i) => {
          if (value === null || value === undefined) return null;
          const serialize = this.db.serializers[statement.types[i]] as ((v: unknown) => string) | undefined;
          return serialize ? serialize(value) : String(value as string | number | boolean);
        });
        const messages = [];
        try {
          for (const message of [
            protocol.serialize.bind({ statement: statement.name, values }),
            protocol.serialize.describe({ type: 'P' }),
            protocol.serialize.execute({}),
          ])
            messages.push(...(await this.db.execProtocol(message, { syncToFs: false })).messages);
        } finally {
          messages.push(
            ...(
              await this.db.execProtocol(protocol.serialize.sync(), { syncToFs: false, throwOnError: false })
            ).messages,
          );
        }
        return parse.parseResults(messages, this.db.parsers)[0] as Results<R>;
      }),
    );
  }

  private async prepare(text: string): Promise<{ name: string; types: number[] }> {
    const name = `llmbus_prepared_${++this.named}`;
    try {
      await this.db.execProtocol(protocol.serialize.parse({ name, text, types: [] }), { syncToFs: false });
      const described = await this.db.execProtocol(protocol.serialize.describe({ type: 'S', name }), {
        syncToFs: false,
      });
      const statement = { name, types: parse.parseDescribeStatementResults(described.messages) };
      this.prepared.set(text, statement);
      return statement;
    } finally {
      await this.db.execProtocol(protocol.serialize.sync(), { syncToFs: false, throwOnError: false });
    }
  }
}
