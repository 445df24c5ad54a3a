import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Db } from '../db/db';
import { fsError } from '../errors';
import type { BlobStore } from '../fs/blob-store';
import { backupState, type BackupHandle } from '../fs/move-aside';
import { rootPathFromHost, type Root, type RootPath } from '../fs/rootpath';
import type { DiskState } from '../model/disk';
import type { InstalledFile, InstalledPackage } from '../model/package';

/**
 * With `--keep-backups`, what a committed transaction replaced or removed goes into the content-addressed
 * store before its backup is discarded, and the database notes which blob held which path. `rollback`
 * takes the contents from there.
 */
export class BackupKeeper {
  constructor(
    private readonly db: Db,
    private readonly txnId: number,
    private readonly root: Root,
    private readonly store: BlobStore,
  ) {}

  async keep(h: BackupHandle): Promise<void> {
    if ((await backupState(h)) !== 'aside') return;
    await this.keepTree(h.backup, rootPathFromHost(this.root, h.original));
  }

  private async keepTree(host: string, rootPath: string): Promise<void> {
    const st = await fsp.lstat(host).catch((err: unknown) => {
      throw fsError('inspect', err, host);
    });
    if (st.isFile()) {
      const { sha256, size } = await this.store.store(host);
      this.db.backups.add(this.txnId, rootPath, sha256, size);
    } else if (st.isDirectory()) {
      for (const name of await fsp.readdir(host)) await this.keepTree(path.join(host, name), rootPath ? `${rootPath}/${name}` : name);
    }
  }
}

/**
 * A file row of a rollback snapshot. The row is what the package recorded; `onDisk` is how the root held
 * the file when the transaction replaced it (a conffile the administrator edited has its own mtime, and
 * may have its own mode), so that a rollback puts back exactly that, while the database gets the row.
 */
export interface SnapshotFile extends InstalledFile {
  onDisk?: { mode: number; uid: number; gid: number; mtimeNs: string };
}

/** A package's rows as the snapshot JSON of a transaction that keeps its backups. */
export function snapshotJson(pkg: InstalledPackage, disk: ReadonlyMap<RootPath, DiskState>): string {
  const files = pkg.files.map((f): SnapshotFile => {
    const d = disk.get(f.path);
    if (f.type !== 'file' || d?.type !== 'file' || d.mode === undefined || d.uid === undefined || d.gid === undefined || d.mtimeNs === undefined) return f;
    return { ...f, onDisk: { mode: d.mode & 0o7777, uid: d.uid, gid: d.gid, mtimeNs: d.mtimeNs.toString() } };
  });
  return JSON.stringify({ ...pkg, files });
}

/**
 * Blobs no transaction refers to any more, and half-stored temporaries: what a crash leaves between a
 * database change that lets go of backups and the removal of their files (or between writing a blob and
 * recording it). Run by `recover` once every transaction is finished, so nothing still needs them.
 */
export async function collectOrphanBlobs(db: Db, store: BlobStore): Promise<void> {
  const { blobs, temporaries } = await store.scan();
  for (const t of temporaries) await store.removeTemporary(t);
  for (const h of blobs) if (!db.backups.has(h)) await store.remove(h);
}
