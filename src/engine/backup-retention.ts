import type { Db } from '../db/db';
import type { BlobStore } from '../fs/blob-store';

/**
 * How long --keep-backups keeps what transactions replaced: the newest `retention` transactions that kept
 * any keep them (and stay undoable by `rollback`); older ones lose them.
 */
export async function pruneBackups(db: Db, store: BlobStore, retention: number): Promise<void> {
  const keeping = db.txns.list().filter((t) => t.backupsKept);
  for (const t of keeping.slice(Math.max(0, retention))) await releaseBackups(db, store, t.id);
}

/** Forgets what transaction `txnId` kept: its snapshots, its blob references, and blobs nobody else uses. */
export async function releaseBackups(db: Db, store: BlobStore, txnId: number): Promise<void> {
  await removeBlobs(store, releaseBackupRows(db, txnId));
}

/**
 * The database half of releaseBackups, usable inside a commit; returns the blobs nobody refers to any
 * more, for removeBlobs after the commit. A crash in between leaves only unreferenced blobs, which
 * `recover` collects (collectOrphanBlobs).
 */
export function releaseBackupRows(db: Db, txnId: number): string[] {
  return db.transaction(() => {
    db.snapshots.drop(txnId);
    db.txns.setBackupsKept(txnId, false);
    return db.backups.release(txnId);
  });
}

export async function removeBlobs(store: BlobStore, hashes: string[]): Promise<void> {
  for (const h of hashes) await store.remove(h);
}
