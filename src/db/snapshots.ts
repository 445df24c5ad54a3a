import { guarded } from './db-error';
import type { Statements } from './statements';

export const SNAPSHOT_SQL = {
  add: `INSERT INTO txn_snapshots (txn_id, seq, name, architecture, before)
    SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM txn_snapshots WHERE txn_id = ?`,
  list: `SELECT name, architecture, before FROM txn_snapshots WHERE txn_id = ? ORDER BY seq`,
  addExtra: `INSERT INTO txn_extras (txn_id, path) VALUES (?, ?) ON CONFLICT DO NOTHING`,
  extras: `SELECT path FROM txn_extras WHERE txn_id = ? ORDER BY path`,
  drop: `DELETE FROM txn_snapshots WHERE txn_id = ?`,
  dropExtras: `DELETE FROM txn_extras WHERE txn_id = ?`,
} as const;

export interface SnapshotRow {
  name: string;
  architecture: string;
  /** The package as it was before the transaction (JSON), or null when it was not there. */
  before: string | null;
}

/** The state a transaction replaced, kept so that `rollback` can bring it back. */
export class Snapshots {
  constructor(private readonly s: Statements) {}

  add(txnId: number, name: string, architecture: string, before: string | null): void {
    guarded(this.s.file, `record the previous state of ${name}`, () => {
      this.s.get(SNAPSHOT_SQL.add).run(txnId, name, architecture, before, txnId);
    });
  }

  list(txnId: number): SnapshotRow[] {
    return guarded(this.s.file, `read the snapshots of transaction ${txnId}`, () => this.s.get(SNAPSHOT_SQL.list).all(txnId) as SnapshotRow[]);
  }

  addExtra(txnId: number, path: string): void {
    guarded(this.s.file, `record ${path} as made by transaction ${txnId}`, () => {
      this.s.get(SNAPSHOT_SQL.addExtra).run(txnId, path);
    });
  }

  extras(txnId: number): string[] {
    return guarded(this.s.file, `read the extras of transaction ${txnId}`, () =>
      (this.s.get(SNAPSHOT_SQL.extras).all(txnId) as Array<{ path: string }>).map((r) => r.path),
    );
  }

  /** Forgets what a transaction kept (its backups were pruned or it was rolled back). */
  drop(txnId: number): void {
    guarded(this.s.file, `drop the snapshots of transaction ${txnId}`, () =>
      this.s.inTransaction(() => {
        this.s.get(SNAPSHOT_SQL.drop).run(txnId);
        this.s.get(SNAPSHOT_SQL.dropExtras).run(txnId);
      }),
    );
  }
}
