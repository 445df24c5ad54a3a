import { singleParagraph } from '../archive/deb';
import type { Db } from '../db/db';
import type { TxnRow } from '../db/types';
import { OvermergeError } from '../errors';
import type { BlobStore } from '../fs/blob-store';
import { applyMeta, makePrivateDirectory } from '../fs/entries';
import { hostJoin, type HostPath } from '../fs/host-path';
import { TimesBatch } from '../fs/metadata';
import { recordedRootPath, type RootPath } from '../fs/rootpath';
import type { ManifestEntry } from '../model/entry';
import type { StagedPackage } from '../model/staged-package';
import { Manifest } from '../model/manifest';
import type { InstalledFile, InstalledPackage } from '../model/package';
import { releaseBackupRows, removeBlobs } from './backup-retention';
import type { Writer } from './context';
import { blobStore } from './context';
import type { SnapshotFile } from './keep-backups';
import type { InstallRequest, RemoveRequest } from './plan-model';
import { md5Of } from './probe';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * `rollback [TXN]`: undoes a committed transaction that kept its backups, as a transaction of its own.
 * Each package goes back to the rows it had before: its snapshot is staged like an archive, with the
 * contents from the backup store, and the request asks the planner to record the snapshot's rows as they
 * were. Files the transaction never replaced have no content kept: their entries claim the file the root
 * still holds. Packages the transaction brought in are purged, and the `.dpkg-dist`/`.dpkg-old` files it
 * made go. The planner does the rest exactly as for an install, so a rollback is as safe as one.
 */
export async function rollbackTransaction(w: Writer, requested: number | undefined, opts: TxnOptions): Promise<TxnOutcome & { target: number }> {
  const { db } = w;
  const target = pickTarget(db, requested);
  checkUnchangedSince(db, target);
  const store = blobStore(w.loc);
  const blobs = new Map<string, string>();
  for (const b of db.backups.ofTxn(target.id)) blobs.set(b.path, b.sha256);
  const snapshots = db.snapshots.list(target.id);
  const extras = db.snapshots.extras(target.id).map(recordedRootPath);
  let orphans: string[] = [];
  const outcome = await runTransaction(w, { ...opts, keepBackups: false }, {
    kind: 'rollback',
    args: [String(target.id)],
    targetTxn: target.id,
    plan: async (probe, stagingDir, options) => {
      const installs: InstallRequest[] = [];
      const removals: RemoveRequest[] = [];
      for (let i = 0; i < snapshots.length; i++) {
        const snap = snapshots[i];
        const current = probe.installed(snap.name, snap.architecture);
        if (snap.before === null) {
          if (current) removals.push({ pkg: current, purge: true });
          continue;
        }
        const before = JSON.parse(snap.before) as InstalledPackage;
        const dir = hostJoin(stagingDir, String(i));
        await makePrivateDirectory(dir, 'create staging folder');
        const staged = await stageSnapshot(before, dir, blobs, store, opts.asRoot);
        const rows = new Map<RootPath, InstalledFile>(before.files.map((f) => [f.path, rowOf(f as SnapshotFile)]));
        installs.push({ staged, resolved: await probe.resolveAll(staged), old: current, status: before.status, rows });
      }
      return planChanges(probe, db, { installs, removals, extraRemovals: extras }, options);
    },
    // Letting go of the target's backups is part of the commit: once rolled back, nothing may be left
    // that says it can be rolled back (again); only the unreferenced blobs go after the clean-up.
    commitAlso: () => {
      db.txns.markState(target.id, 'rolled-back');
      orphans = releaseBackupRows(db, target.id);
    },
    afterFinish: () => removeBlobs(store, orphans),
  });
  return { ...outcome, target: target.id };
}

function pickTarget(db: Db, requested: number | undefined): TxnRow {
  const done = (t: TxnRow) => (t.state === 'committed' || t.state === 'recovered-new') && t.kind !== 'rollback';
  const t = requested === undefined ? db.txns.list().find(done) : db.txns.get(requested);
  if (!t) {
    throw new OvermergeError('E_CANNOT_ROLLBACK', requested === undefined ? 'no transaction to roll back' : `there is no transaction ${requested}`, {
      op: 'rollback',
    });
  }
  if (!done(t)) {
    throw new OvermergeError('E_CANNOT_ROLLBACK', `transaction ${t.id} (${t.kind}, ${t.state}) is not a committed change that can be rolled back`, {
      op: 'rollback',
    });
  }
  if (!t.backupsKept) {
    throw new OvermergeError('E_CANNOT_ROLLBACK', `transaction ${t.id} did not keep its backups, so it cannot be rolled back`, {
      op: 'rollback',
      hint: 'run changes with --keep-backups to make them undoable',
    });
  }
  return t;
}

/** A later transaction that changed the same packages would be silently undone too: refuse instead. */
function checkUnchangedSince(db: Db, t: TxnRow): void {
  for (const c of db.txns.packageChanges(t.id)) {
    const now = db.packages.get(c.name, c.architecture);
    const expected =
      c.action === 'purge' ? now === undefined : c.action === 'remove' ? !now || now.status === 'config-files' : now?.version === c.newVersion;
    if (!expected) {
      throw new OvermergeError(
        'E_CANNOT_ROLLBACK',
        `package ${c.name} changed after transaction ${t.id} (now ${now ? `${now.version}, ${now.status}` : 'not installed'})`,
        { op: 'rollback', hint: 'roll back the later transactions first' },
      );
    }
  }
}

/** A snapshot row as the database records it (without how the root held the file). */
function rowOf({ onDisk, ...row }: SnapshotFile): InstalledFile {
  void onDisk;
  return row;
}

/**
 * Stages a snapshot like an archive: its entries are placed as plain files (no conffile rules: the
 * snapshot is exactly what was there), with contents from the backup store where they were kept.
 */
async function stageSnapshot(
  before: InstalledPackage,
  dir: HostPath,
  blobs: Map<string, string>,
  store: BlobStore,
  asRoot: boolean,
): Promise<StagedPackage> {
  const source = `snapshot of ${before.name} ${before.version}`;
  const control = singleParagraph(before.control ?? '', source);
  const entries: ManifestEntry[] = [];
  const times = new TimesBatch();
  let n = 0;
  for (const { onDisk, ...f } of order(before.files as SnapshotFile[])) {
    const p = recordedRootPath(f.path);
    const e: ManifestEntry = {
      path: p,
      type: f.type,
      mode: f.mode,
      uid: f.uid,
      gid: f.gid,
      mtime: f.mtime,
      size: f.size,
      sha256: f.sha256,
      md5: f.md5,
      target: f.type === 'symlink' ? f.target : undefined,
      linkTo: f.type === 'hardlink' && f.target !== undefined ? recordedRootPath(f.target) : undefined,
      devmajor: f.devmajor,
      devminor: f.devminor,
      conffile: false,
    };
    const sha = f.type === 'file' ? blobs.get(f.path) : undefined;
    if (f.type === 'file' && sha === undefined) {
      e.claimsExisting = true;
    } else if (sha !== undefined) {
      e.stagedIn = dir;
      e.stagedAs = n++;
      const staged = hostJoin(dir, String(e.stagedAs));
      await store.copyOut(sha, staged);
      // The file as the root held it (an edited conffile's own mtime and mode); the row stays the package's.
      await applyMeta(staged, onDisk ? { ...onDisk, mtime: f.mtime } : f, asRoot, false);
      if (onDisk) times.addNs(staged, BigInt(onDisk.mtimeNs), BigInt(onDisk.mtimeNs));
      e.sha256 = sha;
      e.md5 = await md5Of(staged);
    }
    entries.push(e);
  }
  await times.flush();
  return {
    archive: source,
    name: before.name,
    version: before.version,
    architecture: before.architecture,
    control,
    controlText: before.control ?? '',
    controlFiles: new Map(),
    conffiles: [],
    entries: Manifest.of(entries, dir),
    bytes: 0,
  };
}

/** Directories first, hard links last (their targets must be in place first). */
function order<F extends InstalledFile>(files: F[]): F[] {
  const rank = (f: F) => (f.type === 'directory' ? 0 : f.type === 'hardlink' ? 2 : 1);
  return [...files].sort((a, b) => rank(a) - rank(b));
}
