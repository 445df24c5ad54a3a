import { guarded, guardedIter } from './db-error';
import type { Statements } from './statements';
import type { BackupRef } from './types';

export const BACKUP_SQL = {
  addBlob: `INSERT INTO backups (sha256, size, stored_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
  addRef: `INSERT INTO txn_backups (txn_id, path, sha256) VALUES (?, ?, ?)
    ON CONFLICT (txn_id, path) DO UPDATE SET sha256 = excluded.sha256`,
  has: `SELECT 1 AS x FROM backups WHERE sha256 = ?`,
  ofTxn: `SELECT r.txn_id AS txnId, r.path AS path, r.sha256 AS sha256, b.size AS size
    FROM txn_backups r JOIN backups b ON b.sha256 = r.sha256 WHERE r.txn_id = ? ORDER BY r.path`,
  // The blobs only this transaction refers to; computed before its references go.
  soleBlobs: `SELECT DISTINCT r.sha256 AS sha256 FROM txn_backups r WHERE r.txn_id = ?
    AND NOT EXISTS (SELECT 1 FROM txn_backups o WHERE o.sha256 = r.sha256 AND o.txn_id <> r.txn_id)`,
  dropRefs: `DELETE FROM txn_backups WHERE txn_id = ?`,
  dropBlob: `DELETE FROM backups WHERE sha256 = ?`,
} as const;

/**
 * The index of the content-addressed backup store: which blobs exist (by sha256) and which transaction
 * kept which blob for which path. The store's files themselves are the fs layer's business.
 */
export class Backups {
  constructor(private readonly s: Statements) {}

  /** Records that transaction `txnId` kept the old content of `path` as blob `sha256`. */
  add(txnId: number, path: string, sha256: string, size: number, now: number = Date.now()): void {
    guarded(this.s.file, `record a backup of ${path}`, () =>
      this.s.inTransaction(() => {
        this.s.get(BACKUP_SQL.addBlob).run(sha256, size, now);
        this.s.get(BACKUP_SQL.addRef).run(txnId, path, sha256);
      }),
    );
  }

  has(sha256: string): boolean {
    return guarded(this.s.file, `look up backup ${sha256}`, () => this.s.get(BACKUP_SQL.has).get(sha256) !== undefined);
  }

  /** The backups transaction `txnId` kept, in path order, streamed. */
  ofTxn(txnId: number): Generator<BackupRef, void, undefined> {
    const s = this.s;
    return guardedIter(s.file, `list the backups of transaction ${txnId}`, () =>
      s.get(BACKUP_SQL.ofTxn).iterate(txnId) as IterableIterator<BackupRef>,
    );
  }

  /**
   * Drops transaction `txnId`'s references and returns the hashes no transaction refers to any more;
   * their rows are gone, and the caller deletes the stored files (after this commits, so a crash leaves
   * an orphan blob at worst, never a reference to a missing one).
   */
  release(txnId: number): string[] {
    return guarded(this.s.file, `release the backups of transaction ${txnId}`, () =>
      this.s.inTransaction(() => {
        const orphans = (this.s.get(BACKUP_SQL.soleBlobs).all(txnId) as Array<{ sha256: string }>).map((r) => r.sha256);
        this.s.get(BACKUP_SQL.dropRefs).run(txnId);
        const drop = this.s.get(BACKUP_SQL.dropBlob);
        for (const h of orphans) drop.run(h);
        return orphans;
      }),
    );
  }
}
