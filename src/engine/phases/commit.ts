import type { Db } from '../../db/db';
import type { FileInput, PackageStatus } from '../../db/types';
import { OvermergeError } from '../../errors';
import type { RootPath } from '../../fs/rootpath';
import type { DiskState } from '../../model/disk';
import type { InstalledFile } from '../../model/package';
import { snapshotJson } from '../keep-backups';
import type { Plan } from '../plan-model';
import { stepsOf } from '../plan-steps';
import type { Requests } from './probe';

export interface CommitOptions {
  /** Record what the transaction replaced, so `rollback` can rebuild the old state (--keep-backups). */
  snapshots?: { requests: Requests; disk: ReadonlyMap<RootPath, DiskState> };
  /** Database writes of the caller's that belong to the same instant (a rollback marks its target). */
  also?: () => void;
}

/**
 * The commit phase: the plan's outcome written to the database and the transaction marked committed, all
 * in one SQLite transaction — the single instant at which "old" becomes "new". The caller has synced
 * every filesystem change the rows describe before calling it.
 */
export function commitPlan(db: Db, txnId: number, plan: Plan, opts: CommitOptions = {}): void {
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
      db.files.insertFiles(id, fileInputs(rec.files));
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
    if (opts.snapshots) recordSnapshots(db, txnId, opts.snapshots.requests, plan, opts.snapshots.disk);
    opts.also?.();
    db.txns.commit(txnId);
  });
}

/** The rows as the files table takes them, made one at a time: all at once, 116,010 of them took 15 MiB. */
function* fileInputs(files: Iterable<InstalledFile>): Generator<FileInput> {
  for (const f of files) yield toFileInput(f);
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

/**
 * With --keep-backups: each package's rows as they were before, and the unowned paths this transaction
 * created, so that `rollback` can rebuild the old state.
 */
function recordSnapshots(db: Db, txnId: number, req: Requests, plan: Plan, disk: ReadonlyMap<RootPath, DiskState>): void {
  for (const r of req.installs) {
    db.snapshots.add(txnId, r.staged.name, r.staged.architecture, r.old ? snapshotJson(r.old, disk) : null);
  }
  for (const r of req.removals) db.snapshots.add(txnId, r.pkg.name, r.pkg.architecture, snapshotJson(r.pkg, disk));
  const owned = new Set<string>();
  for (const rec of plan.records) for (const f of rec.files) owned.add(f.path);
  for (const step of stepsOf(plan.steps)) {
    if ((step.kind === 'place-file' || step.kind === 'place-special') && step.aside === 'none' && !owned.has(step.path)) {
      db.snapshots.addExtra(txnId, step.path);
    }
  }
}
