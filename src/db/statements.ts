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

  /**
   * inTransaction, but inside an open transaction without a savepoint of its own: for the bulk writes
   * (a package's file rows) whose callers never carry on after an error, so that it propagates and the
   * open transaction is rolled back whole. A savepoint keeps the old contents of every page written under
   * it in SQLite's statement journal, in memory (open.ts: temp_store): for a reinstall of 116,010 files,
   * most of the files table (+24 MiB of peak RSS).
   */
  inTransactionFlat<T>(fn: () => T): T {
    return this.sql.inTransaction ? fn() : this.inTransaction(fn);
  }

  /**
   * inTransaction, committed without its own fsync of the write-ahead log (synchronous = NORMAL for this
   * commit): for a record nothing waits on, whose loss in a power cut leaves a state the database must
   * already accept (as after a crash just before it was written). The log is appended in order, so the
   * next ordinary commit's fsync makes this one durable too. Inside an open transaction (a savepoint)
   * nothing changes: the outer commit decides.
   */
  inTransactionLazily<T>(fn: () => T): T {
    if (this.sql.inTransaction) return this.inTransaction(fn);
    const was = this.sql.pragma('synchronous', { simple: true }) as number;
    if (was <= SYNCHRONOUS_NORMAL) return this.inTransaction(fn);
    this.sql.pragma(`synchronous = ${SYNCHRONOUS_NORMAL}`);
    try {
      return this.inTransaction(fn);
    } finally {
      this.sql.pragma(`synchronous = ${was}`);
    }
  }
}

/** SQLite's PRAGMA synchronous levels: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
const SYNCHRONOUS_NORMAL = 1;
