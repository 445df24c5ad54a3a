import type { Database, Statement } from 'better-sqlite3';

/**
 * What each query module gets: the connection's prepared-statement cache (one per Db instance, so two
 * databases open in one process never share state) and the file name for error messages.
 */
export class Statements {
  private readonly cache = new Map<string, Statement>();

  constructor(
    readonly sql: Database,
    readonly file: string,
  ) {}

  /** The prepared statement for `text`, prepared on first use. */
  get(text: string): Statement {
    let s = this.cache.get(text);
    if (s === undefined) {
      s = this.sql.prepare(text);
      this.cache.set(text, s);
    }
    return s;
  }

  /**
   * Runs `fn` in one SQLite transaction, or as a savepoint when one is already open. IMMEDIATE, so the
   * write lock is taken up front and a concurrent writer waits for the busy timeout instead of failing
   * halfway with SQLITE_BUSY on lock upgrade.
   */
  inTransaction<T>(fn: () => T): T {
    return this.sql.transaction(fn).immediate();
  }
}
