import { promises as fsp, constants as C } from 'node:fs';
import * as path from 'node:path';
import { singleParagraph } from '../archive/deb';
import type { Db } from '../db/db';
import type { TxnRow } from '../db/types';
import { OvermergeError, fsError } from '../errors';
import { applyMeta } from '../fs/entries';
import { TimesBatch } from '../fs/metadata';
import type { BlobStore } from '../fs/blob-store';
import type { RootPath } from '../fs/rootpath';
import type { ManifestEntry, StagedPackage } from '../stage/manifest';
import type { Writer } from './context';
import type { InstalledFile, InstalledPackage, InstallRequest, RemoveRequest } from './model';
import { blobStore } from './context';
import { releaseBackupRows, removeBlobs, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';
import type { SnapshotFile } from './keep-backups';
import { md5Of } from './probe';

/**
 * `rollback [TXN]`: undoes a committed transaction that kept its backups, as a transaction of its own.
 * Each package goes back to the rows it had before (a synthetic "archive" staged from the backup store),
 * packages the transaction brought in are purged, and the `.dpkg-dist`/`.dpkg-old` files it made go.
 * The planner does the rest exactly as for an install, so a rollback is as safe as one.
 */
export async function rollbackTransaction(w: Writer, requested: number | undefined, opts: TxnOptions): Promise<TxnOutcome & { target: number }> {
  const { db } = w;
  const target = pickTarget(db, requested);
  checkUnchangedSince(db, target);
  const store = blobStore(w.loc);
  const blobs = new Map<string, string>();
  for (const b of db.backups.ofTxn(target.id)) blobs.set(b.path, b.sha256);
  const snapshots = db.snapshots.list(target.id);
  const extras = db.snapshots.extras(target.id) as RootPath[];
  let orphans: string[] = [];
  const outcome = await runTransaction(
    w,
    'rollback',
    [String(target.id)],
    { ...opts, keepBackups: false },
    async (probe, stagingDir) => {
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
        const dir = path.join(stagingDir, String(i));
        await fsp.mkdir(dir, { mode: 0o700 });
        const staged = await stageSnapshot(before, dir, blobs, store, opts.asRoot);
        installs.push({ staged, resolved: await probe.resolveAll(staged), old: current, status: before.status });
      }
      return {
        installs,
        removals,
        extraRemovals: extras,
        // Letting go of the target's backups is part of the commit: once rolled back, nothing may be
        // left that says it can be rolled back (again); only the unreferenced blobs go after the clean-up.
        onCommit: () => {
          db.txns.markState(target.id, 'rolled-back');
          orphans = releaseBackupRows(db, target.id);
        },
        afterFinish: () => removeBlobs(store, orphans),
      };
    },
    target.id,
  );
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

/** Builds a staged package from a snapshot: file contents come from the backup store. */
async function stageSnapshot(
  before: InstalledPackage,
  dir: string,
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
    const e: ManifestEntry = {
      path: f.path,
      type: f.type,
      mode: f.mode,
      uid: f.uid,
      gid: f.gid,
      mtime: f.mtime,
      size: f.size,
      sha256: f.sha256,
      md5: f.md5,
      target: f.type === 'symlink' ? f.target : undefined,
      linkTo: f.type === 'hardlink' ? (f.target as RootPath) : undefined,
      devmajor: f.devmajor,
      devminor: f.devminor,
      conffile: false,
      restore: f,
    };
    const sha = f.type === 'file' ? blobs.get(f.path) : undefined;
    if (sha !== undefined) {
      e.staged = path.join(dir, String(n++));
      await fsp.copyFile(store.pathOf(sha), e.staged, C.COPYFILE_EXCL | C.COPYFILE_FICLONE).catch((err: unknown) => {
        throw fsError('stage backup of', err, store.pathOf(sha), e.staged);
      });
      // The file as the root held it (an edited conffile's own mtime and mode); the row stays the package's.
      await applyMeta(e.staged, onDisk ? { ...onDisk, mtime: f.mtime } : f, asRoot, false);
      if (onDisk) times.addNs(e.staged, BigInt(onDisk.mtimeNs), BigInt(onDisk.mtimeNs));
      e.sha256 = sha;
      e.md5 = await md5Of(e.staged);
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
    entries,
    bytes: 0,
  };
}

/** Directories first, hard links last (their targets must be in place first). */
function order<F extends InstalledFile>(files: F[]): F[] {
  const rank = (f: F) => (f.type === 'directory' ? 0 : f.type === 'hardlink' ? 2 : 1);
  return [...files].sort((a, b) => rank(a) - rank(b));
}
