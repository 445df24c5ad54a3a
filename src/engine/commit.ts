import type { Db } from '../db/db';
import type { FileInput, PackageStatus } from '../db/types';
import { OvermergeError } from '../errors';
import type { InstalledFile, Plan } from './model';

/**
 * Writes the plan's outcome to the database and marks the transaction committed, all in one SQLite
 * transaction: this is the single instant at which "old" becomes "new". The caller has synced every
 * filesystem change the rows describe before calling it.
 */
export function commitPlan(db: Db, txnId: number, plan: Plan): void {
  db.transaction(() => {
    for (const rec of plan.records) {
      const existing = db.packages.get(rec.ref.name, rec.ref.architecture);
      const control = rec.staged?.controlText ?? existing?.control;
      if (control === undefined) {
        throw new OvermergeError('E_INTERNAL', `no control data for ${rec.ref.name}`, { op: 'commit' });
      }
      const installedSize = rec.staged ? Number(rec.staged.control.get('Installed-Size') ?? '') : existing?.installedSize;
      const id = db.packages.upsert(
        {
          name: rec.ref.name,
          architecture: rec.ref.architecture,
          version: rec.ref.version,
          status: rec.status as PackageStatus,
          control,
          installedSize: Number.isFinite(installedSize) ? installedSize : null,
        },
        txnId,
      );
      db.files.deleteFilesOf(id);
      db.files.insertFiles(id, rec.files.map(toFileInput));
    }
    for (const ref of plan.deleted) {
      const row = db.packages.get(ref.name, ref.architecture);
      if (!row) continue;
      db.files.deleteFilesOf(row.id);
      db.packages.delete(row.id);
    }
    for (const d of plan.disowned) {
      const row = db.packages.get(d.owner.name, d.owner.architecture);
      if (row) db.files.deletePaths(row.id, [d.path]);
    }
    for (const c of plan.changes) db.txns.addPackageChange(txnId, c);
    db.txns.commit(txnId);
  });
}

export function toFileInput(f: InstalledFile): FileInput {
  return {
    path: f.path,
    type: f.type,
    mode: f.mode,
    uid: f.uid,
    gid: f.gid,
    size: f.size,
    sha256: f.sha256 ?? null,
    md5: f.md5 ?? null,
    mtime: f.mtime,
    linkTarget: f.target ?? null,
    devMajor: f.devmajor ?? null,
    devMinor: f.devminor ?? null,
    conffile: f.conffile,
    conffileHash: f.conffileHash ?? null,
  };
}
