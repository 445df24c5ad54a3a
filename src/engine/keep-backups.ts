import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Db } from '../db/db';
import { fsError } from '../errors';
import type { BlobStore } from '../fs/blob-store';
import { backupState, type BackupHandle } from '../fs/move-aside';
import { rootPathFromHost, type Root } from '../fs/rootpath';

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
