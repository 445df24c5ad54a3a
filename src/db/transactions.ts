import { expectOne, guarded } from './db-error';
import type { Statements } from './statements';
import type { PackageChange } from '../model/package';
import type { BeginOptions, PackageChangeRow, TxnKind, TxnRow, TxnState } from './types';

const COLUMNS = `id, kind, args, state, started_at AS startedAt, finished_at AS finishedAt,
  backups_kept AS backupsKept, pid, target_txn AS targetTxn, error`;

export const TXN_SQL = {
  begin: `INSERT INTO transactions (kind, args, state, started_at, backups_kept, pid, target_txn)
    VALUES (?, ?, 'open', ?, ?, ?, ?) RETURNING id`,
  // Only an open transaction can finish; finishing twice is a bug the caller must hear about.
  finish: `UPDATE transactions SET state = ?, finished_at = ?, error = ? WHERE id = ? AND state = 'open'`,
  // Later state changes of finished transactions (committed -> rolled-back).
  markState: `UPDATE transactions SET state = ?, finished_at = coalesce(finished_at, ?), error = coalesce(?, error)
    WHERE id = ?`,
  setBackupsKept: `UPDATE transactions SET backups_kept = ? WHERE id = ?`,
  get: `SELECT ${COLUMNS} FROM transactions WHERE id = ?`,
  list: `SELECT ${COLUMNS} FROM transactions ORDER BY id DESC LIMIT ?`,
  open: `SELECT ${COLUMNS} FROM transactions WHERE state = 'open' ORDER BY id`,
  // Committed, but its backups and temporaries were not yet let go of (the journal is cleared when they are).
  unfinished: `SELECT ${COLUMNS} FROM transactions t
    WHERE state <> 'open' AND EXISTS (SELECT 1 FROM journal j WHERE j.txn_id = t.id) ORDER BY id`,
  forgetChanges: `DELETE FROM txn_packages WHERE txn_id = ?`,
  forgetJournal: `DELETE FROM journal WHERE txn_id = ?`,
  forget: `DELETE FROM transactions WHERE id = ?`,
  addChange: `INSERT INTO txn_packages (txn_id, seq, name, architecture, action, old_version, new_version)
    SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ? FROM txn_packages WHERE txn_id = ?`,
  changes: `SELECT txn_id AS txnId, seq, name, architecture, action, old_version AS oldVersion,
      new_version AS newVersion
    FROM txn_packages WHERE txn_id = ? ORDER BY seq`,
} as const;

interface RawTxnRow extends Omit<TxnRow, 'args' | 'backupsKept'> {
  args: string;
  backupsKept: number;
}

function toTxnRow(r: RawTxnRow): TxnRow {
  return { ...r, args: JSON.parse(r.args) as string[], backupsKept: r.backupsKept === 1 };
}

/** The transactions table (one row per overmerge transaction) and its package changes, for `history`. */
export class Transactions {
  constructor(private readonly s: Statements) {}

  /** Transactions that are past their commit record but still have journal steps to finish. */
  unfinished(): TxnRow[] {
    return guarded(this.s.file, 'list unfinished transactions', () =>
      (this.s.get(TXN_SQL.unfinished).all() as RawTxnRow[]).map(toTxnRow),
    );
  }

  /**
   * Deletes every trace of a transaction that failed and was undone, so that a refused command leaves
   * the database exactly as it found it.
   */
  forget(id: number): void {
    guarded(this.s.file, `forget transaction ${id}`, () =>
      this.s.inTransaction(() => {
        this.s.get(TXN_SQL.forgetChanges).run(id);
        this.s.get(TXN_SQL.forgetJournal).run(id);
        this.s.get(TXN_SQL.forget).run(id);
      }),
    );
  }

  /** Records a new open transaction and returns its id. Durable once this returns (outside a SQLite txn). */
  begin(kind: TxnKind, args: readonly string[], opts: BeginOptions = {}, now: number = Date.now()): number {
    return guarded(this.s.file, `begin a ${kind} transaction`, () => {
      const row = this.s
        .get(TXN_SQL.begin)
        .get(kind, JSON.stringify(args), now, opts.backupsKept ? 1 : 0, opts.pid ?? process.pid, opts.targetTxn ?? null) as {
        id: number;
      };
      return row.id;
    });
  }

  /**
   * Writes the commit record: the single point where the old state becomes the new one. Call it inside
   * the same `Db.transaction` that rewrites packages and files. Throws unless the transaction is open.
   */
  commit(id: number, now: number = Date.now()): void {
    this.finish(id, 'committed', null, now);
  }

  /** Ends an open transaction in any final state (`aborted`, `recovered-old`, ...), with a reason. */
  finish(id: number, state: Exclude<TxnState, 'open'>, error: string | null = null, now: number = Date.now()): void {
    guarded(this.s.file, `mark transaction ${id} ${state}`, () => {
      expectOne(this.s, this.s.get(TXN_SQL.finish).run(state, now, error, id).changes, `open transaction ${id}`);
    });
  }

  /** Sets the state of any transaction, e.g. committed -> rolled-back; keeps the first finish time. */
  markState(id: number, state: TxnState, error: string | null = null, now: number = Date.now()): void {
    guarded(this.s.file, `mark transaction ${id} ${state}`, () => {
      expectOne(this.s, this.s.get(TXN_SQL.markState).run(state, now, error, id).changes, `transaction ${id}`);
    });
  }

  setBackupsKept(id: number, kept: boolean): void {
    guarded(this.s.file, `update transaction ${id}`, () => {
      expectOne(this.s, this.s.get(TXN_SQL.setBackupsKept).run(kept ? 1 : 0, id).changes, `transaction ${id}`);
    });
  }

  get(id: number): TxnRow | undefined {
    return guarded(this.s.file, `look up transaction ${id}`, () => {
      const r = this.s.get(TXN_SQL.get).get(id) as RawTxnRow | undefined;
      return r === undefined ? undefined : toTxnRow(r);
    });
  }

  /** Newest first, at most `limit`. */
  list(limit = -1): TxnRow[] {
    return guarded(this.s.file, 'list transactions', () =>
      (this.s.get(TXN_SQL.list).all(limit) as RawTxnRow[]).map(toTxnRow),
    );
  }

  /** Unfinished transactions, oldest first: anything here needs `recover` before a new write. */
  open(): TxnRow[] {
    return guarded(this.s.file, 'look for unfinished transactions', () =>
      (this.s.get(TXN_SQL.open).all() as RawTxnRow[]).map(toTxnRow),
    );
  }

  /** Appends a package change to transaction `txnId`'s record (numbered in call order). */
  addPackageChange(txnId: number, c: PackageChange): void {
    guarded(this.s.file, `record a change of ${c.name} in transaction ${txnId}`, () => {
      this.s
        .get(TXN_SQL.addChange)
        .run(txnId, c.name, c.architecture, c.action, c.oldVersion ?? null, c.newVersion ?? null, txnId);
    });
  }

  packageChanges(txnId: number): PackageChangeRow[] {
    return guarded(this.s.file, `list the changes of transaction ${txnId}`, () =>
      this.s.get(TXN_SQL.changes).all(txnId) as PackageChangeRow[],
    );
  }
}
