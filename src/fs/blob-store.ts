import { createHash } from 'node:crypto';
import { constants as C, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errnoOf, fsError } from '../errors';
import { hostJoin, type HostPath } from './host-path';
import { newTempId } from './tempname';

/**
 * A content-addressed folder of file contents (`DIR/ab/abcdef…`, named by sha256), where `--keep-backups`
 * keeps what a transaction replaced so `rollback` can put it back. Identical contents are stored once.
 * Blobs are only ever created whole (hard link or copy to a temporary, then rename) and never written to.
 */
export class BlobStore {
  constructor(readonly dir: HostPath) {}

  pathOf(sha256: string): HostPath {
    return hostJoin(this.dir, sha256.slice(0, 2), sha256);
  }

  /** Stores the content of regular file `file` (hard-linked when possible); returns its hash and size. */
  async store(file: string): Promise<{ sha256: string; size: number }> {
    const { sha256, size } = await hashFile(file);
    const blob = this.pathOf(sha256);
    if (await present(blob)) return { sha256, size };
    await fsp.mkdir(path.dirname(blob), { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw fsError('create backup store folder', err, path.dirname(blob));
    });
    const temp = `${blob}.${newTempId()}.tmp`;
    try {
      await fsp.link(file, temp);
    } catch (err) {
      // Another filesystem, or one without hard links: copy instead.
      if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'].includes(errnoOf(err) ?? '')) throw fsError('store backup of', err, file, blob);
      await fsp.copyFile(file, temp, C.COPYFILE_EXCL | C.COPYFILE_FICLONE).catch((e: unknown) => {
        throw fsError('store backup of', e, file, blob);
      });
    }
    await fsp.rename(temp, blob).catch((err: unknown) => {
      throw fsError('store backup of', err, temp, blob);
    });
    return { sha256, size };
  }

  /** Copies a blob out to `dest`, a name that must not exist yet (a reflink where the filesystem has them). */
  async copyOut(sha256: string, dest: HostPath): Promise<void> {
    await fsp.copyFile(this.pathOf(sha256), dest, C.COPYFILE_EXCL | C.COPYFILE_FICLONE).catch((err: unknown) => {
      throw fsError('stage backup of', err, this.pathOf(sha256), dest);
    });
  }

  async has(sha256: string): Promise<boolean> {
    return present(this.pathOf(sha256));
  }

  /**
   * What the store holds: the hashes of its blobs, and the host paths of temporaries a crash left between
   * writing a blob and renaming it into place.
   */
  async scan(): Promise<{ blobs: string[]; temporaries: string[] }> {
    const blobs: string[] = [];
    const temporaries: string[] = [];
    for (const sub of await listDir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of await listDir(path.join(this.dir, sub))) {
        if (/^[0-9a-f]{64}$/.test(name) && name.startsWith(sub)) blobs.push(name);
        else if (/^[0-9a-f]{64}\.[0-9a-f]{12}\.tmp$/.test(name)) temporaries.push(path.join(this.dir, sub, name));
      }
    }
    return { blobs, temporaries };
  }

  /** Removes a temporary found by scan. */
  async removeTemporary(p: string): Promise<void> {
    await fsp.unlink(p).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw fsError('remove backup temporary', err, p);
    });
  }

  async remove(sha256: string): Promise<void> {
    await fsp.unlink(this.pathOf(sha256)).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw fsError('remove backup', err, this.pathOf(sha256));
    });
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return [];
    throw fsError('read backup store', err, dir);
  }
}

async function present(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw fsError('inspect', err, p);
  }
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const handle = await fsp.open(file, C.O_RDONLY | C.O_NOFOLLOW).catch((err: unknown) => {
    throw fsError('read', err, file);
  });
  const stream = handle.createReadStream();
  stream.on('data', (chunk) => {
    size += chunk.length;
  });
  await pipeline(stream, h).catch((err: unknown) => {
    throw fsError('read', err, file);
  });
  return { sha256: h.digest('hex'), size };
}
