import type { Database } from 'better-sqlite3';
import { Backups } from './backups';
import { guarded } from './db-error';
import { DpkgMirror } from './dpkg-mirror';
import { Files } from './files';
import { Journal } from './journal';
import { Packages } from './packages';
import { Snapshots } from './snapshots';
import { Statements } from './statements';
import { Transactions } from './transactions';

/**
 * An open overmerge database. Everything is synchronous (better-sqlite3). Each query object caches its
 * prepared statements on this instance. Obtain one with `openDatabase`.
 */
export class Db {
  readonly packages: Packages;
  readonly files: Files;
  readonly txns: Transactions;
  readonly journal: Journal;
  readonly backups: Backups;
  readonly snapshots: Snapshots;
  readonly dpkgMirror: DpkgMirror;
  private readonly s: Statements;

  constructor(
    private readonly sql: Database,
    readonly file: string,
    readonly readonly: boolean,
  ) {
    this.s = new Statements(sql, file);
    this.packages = new Packages(this.s);
    this.files = new Files(this.s);
    this.txns = new Transactions(this.s);
    this.journal = new Journal(this.s);
    this.backups = new Backups(this.s);
    this.snapshots = new Snapshots(this.s);
    this.dpkgMirror = new DpkgMirror(this.s);
  }

  /**
   * Runs `fn` as one SQLite transaction: all of its writes become durable together or not at all. This is
   * how an overmerge transaction commits (packages, files, txns.commit in one go). Nested calls become
   * savepoints. `fn` must be synchronous; if it throws, everything it wrote is rolled back and the error
   * propagates.
   */
  transaction<T>(fn: () => T): T {
    return guarded(this.file, 'commit', () => this.s.inTransaction(fn));
  }

  /**
   * transaction(), committed without its own fsync of the write-ahead log (Statements.inTransactionLazily):
   * for records whose loss in a power cut leaves a state the database already accepts, made durable by the
   * next ordinary commit.
   */
  transactionLazily<T>(fn: () => T): T {
    return guarded(this.file, 'commit', () => this.s.inTransactionLazily(fn));
  }

  get inTransaction(): boolean {
    return this.sql.inTransaction;
  }

  get schemaVersion(): number {
    return this.sql.pragma('user_version', { simple: true }) as number;
  }

  /**
   * The connection settings that durability rests on, for tests and `overmerge doctor`-style output.
   * journalMode is 'wal' normally; whatever SQLite fell back to on a filesystem without shared memory.
   */
  settings(): { journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra'; foreignKeys: boolean; busyTimeoutMs: number } {
    const sync = this.sql.pragma('synchronous', { simple: true }) as number;
    return {
      journalMode: this.sql.pragma('journal_mode', { simple: true }) as string,
      synchronous: (['off', 'normal', 'full', 'extra'] as const)[sync] ?? 'off',
      foreignKeys: this.sql.pragma('foreign_keys', { simple: true }) === 1,
      busyTimeoutMs: this.sql.pragma('busy_timeout', { simple: true }) as number,
    };
  }

  /**
   * The EXPLAIN QUERY PLAN lines (`SEARCH f USING INDEX ...`) for one of the exported *_SQL statements;
   * tests use it to prove that lookups stay index searches.
   */
  queryPlan(statement: string, ...params: unknown[]): string[] {
    const rows = this.sql.prepare(`EXPLAIN QUERY PLAN ${statement}`).all(...params) as Array<{ detail: string }>;
    return rows.map((r) => r.detail);
  }

  /** The whole database as the bytes of an SQLite file (a copy to write elsewhere). */
  serialize(): Buffer {
    return guarded(this.file, 'serialize', () => this.sql.serialize());
  }

  close(): void {
    if (this.sql.open) this.sql.close();
  }
}
