import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';

/** The protocol messages in one buffer, in order. */
function concatenated(messages: readonly Uint8Array[]): Uint8Array {
  const buffer = new Uint8Array(messages.reduce((length, m) => length + m.length, 0));
  let at = 0;
  for (const message of messages) {
    buffer.set(message, at);
    at += message.length;
  }
  return buffer;
}

/** A statement prepared on the connection: its name and parameter type oids. */
interface Prepared {
  readonly name: string;
  readonly types: number[];
}

/**
 * Statements named so far in this process. Names are never reused, also across instances sharing a
 * connection: a statement parsed but not described keeps its name in the session.
 */
let statementsNamed = 0;

/**
 * Statements run on PGlite as named prepared statements: parsed and analysed once per connection
 * rather than at every call, and planned once when PostgreSQL finds its generic plan no costlier
 * than the plans for each call's values (`plan_cache_mode` auto: after five calls it compares).
 * PGlite's `query` sends each statement unnamed, and parsing and planning were most of the cost
 * of short reads: the audit store's request-status read took 1.04 ms of CPU unnamed and 0.29 ms
 * prepared, same rows. PostgreSQL revalidates a prepared statement's plan itself when the tables
 * it reads change (or are dropped and created again).
 *
 * A run sends its Bind, Describe, Execute and Sync in one call into PostgreSQL (PGlite's `query`
 * makes one call per message): 124 → 96 µs of CPU per indexed read.
 *
 * Runs under PGlite's own transaction and query locks (as `query` does), so its protocol messages
 * never interleave with another statement's; never inside a transaction of this connection (the
 * caller waits for it, as `query` would).
 *
 * At most `maxStatements` texts are kept prepared; preparing one more closes the one used least
 * recently, so callers that build SQL texts (one per table, per number of query words) stay bounded.
 */
export class PglitePreparedStatements {
  /** The prepared statements by SQL text, least recently used first. */
  private readonly prepared = new Map<string, Prepared>();
  private readonly texts: ReadonlySet<string> | undefined;

  constructor(
    private readonly db: PGlite,
    /** The SQL texts `handles` answers true for; when omitted, `handles` answers true for any text. */
    texts?: readonly string[],
    /** Most statements kept prepared at once (at least 1). Default 256. */
    private readonly maxStatements = 256,
  ) {
    this.texts = texts === undefined ? undefined : new Set(texts);
  }

  /** Whether `text` is one of the statements given to the constructor (any text when none were given). */
  handles(text: string): boolean {
    return this.texts === undefined || this.texts.has(text);
  }

  /** SQL texts currently prepared on the connection, least recently used first. */
  preparedTexts(): string[] {
    return [...this.prepared.keys()];
  }

  /**
   * Runs `text` (one statement, `$n` parameters) with `params`, rows parsed as `query` parses them.
   * A parameter given as a typed array or ArrayBuffer is sent in binary format (the type's receive
   * function reads it); others as text, serialised as `query` serialises them. Errors as `query`
   * throws them.
   */
  query<R>(text: string, params: readonly unknown[]): Promise<Results<R>> {
    return this.db._runExclusiveTransaction(() => this.queryInTransaction<R>(text, params));
  }

  /**
   * `query`, for a caller already inside a `transaction` of this connection (the transaction lock
   * is held: taking it again would wait forever). Runs under PGlite's query lock only, as the
   * transaction's own `query` does; the statement stays prepared after the transaction ends,
   * committed or rolled back. Errors as `query` throws them.
   */
  queryInTransaction<R>(text: string, params: readonly unknown[]): Promise<Results<R>> {
    return this.db._runExclusiveQuery(async () => {
      const statement = await this.statementFor(text);
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
        const serialize = this.db.serializers[statement.types[i]] as ((v: unknown) => string) | undefined;
        return serialize ? serialize(value) : String(value as string | number | boolean);
      });
      // Bind, describe, execute and sync in one call into PostgreSQL rather than four (each call
      // costs its own pass through PGlite's protocol loop and reply parsing). A failed message
      // makes PostgreSQL skip the rest up to the Sync, which ends the exchange either way; the
      // error is then thrown as `query` throws it.
      const { messages } = await this.db.execProtocol(
        concatenated([
          protocol.serialize.bind({ statement: statement.name, values }),
          protocol.serialize.describe({ type: 'P' }),
          protocol.serialize.execute({}),
          protocol.serialize.sync(),
        ]),
        { syncToFs: false },
      );
      return parse.parseResults(messages, this.db.parsers)[0] as Results<R>;
    });
  }

  /** The prepared statement for `text`, marked most recently used; prepares it when it is not. */
  private async statementFor(text: string): Promise<Prepared> {
    const known = this.prepared.get(text);
    if (known !== undefined) {
      this.prepared.delete(text);
      this.prepared.set(text, known);
      return known;
    }
    if (this.prepared.size >= Math.max(1, this.maxStatements)) {
      const [oldestText, oldest] = this.prepared.entries().next().value as [string, Prepared];
      this.prepared.delete(oldestText);
      await this.run(protocol.serialize.close({ type: 'S', name: oldest.name }));
    }
    const name = `llmbus_prepared_${++statementsNamed}`;
    const described = await this.run(
      protocol.serialize.parse({ name, text, types: [] }),
      protocol.serialize.describe({ type: 'S', name }),
    );
    const statement = { name, types: parse.parseDescribeStatementResults(described) };
    this.prepared.set(text, statement);
    return statement;
  }

  /** Sends `messages` then a Sync (always, so a failed message leaves no transaction open); the replies to `messages`. */
  private async run(...messages: Uint8Array[]) {
    const replies = [];
    try {
      for (const message of messages)
        replies.push(...(await this.db.execProtocol(message, { syncToFs: false })).messages);
    } finally {
      await this.db.execProtocol(protocol.serialize.sync(), { syncToFs: false, throwOnError: false });
    }
    return replies;
  }
}
