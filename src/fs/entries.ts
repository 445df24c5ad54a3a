import { execFile } from 'node:child_process';
import { constants as C, lstatSync, promises as fsp, rmdirSync, unlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { errnoOf, fsError, OvermergeError } from '../errors';

const execFileP = promisify(execFile);

/**
 * Small filesystem primitives the install engine composes into undoable steps: making one entry with
 * its metadata under a fresh name, renaming it into place, keeping a hard-linked backup, removing what
 * a step made. Each refuses to follow a symlink at the final component, and each "remove" is idempotent
 * so that undo and recovery can run it from any state.
 */

export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
}

export interface SpecialEntry extends Meta {
  type: 'symlink' | 'fifo' | 'char' | 'block' | 'hardlink';
  target?: string;
  devmajor?: number;
  devminor?: number;
  /** Host path to link to (hard links). */
  linkFrom?: string;
}

/** Creates a symlink, fifo, device node or hard link at the fresh name `at` (which must not exist). */
export async function createSpecial(at: string, e: SpecialEntry, asRoot: boolean): Promise<void> {
  try {
    switch (e.type) {
      case 'symlink':
        await fsp.symlink(e.target ?? '', at);
        break;
      case 'hardlink':
        await fsp.link(e.linkFrom ?? '', at);
        return; // a hard link shares its target's inode and metadata
      case 'fifo':
        await execFileP('mknod', ['-m', (e.mode & 0o777).toString(8), '--', at, 'p']);
        break;
      case 'char':
      case 'block':
        if (!asRoot) {
          throw new OvermergeError('E_FS', `cannot create device node ${at}: only root can (run as root)`, { op: 'mknod', path: at, errno: 'EPERM' });
        }
        await execFileP('mknod', ['-m', (e.mode & 0o777).toString(8), '--', at, e.type === 'char' ? 'c' : 'b', String(e.devmajor ?? 0), String(e.devminor ?? 0)]);
        break;
    }
  } catch (err) {
    throw fsError(`create ${e.type}`, err, at);
  }
  await applyMeta(at, e, asRoot, e.type === 'symlink');
}

/** Owner, then mode (chown clears setuid/setgid), then times. Symlinks have no mode of their own. */
export async function applyMeta(p: string, m: Meta, asRoot: boolean, isSymlink: boolean): Promise<void> {
  try {
    if (asRoot) await fsp.lchown(p, m.uid, m.gid);
    if (!isSymlink) await fsp.chmod(p, m.mode);
    await fsp.lutimes(p, m.mtime, m.mtime);
  } catch (err) {
    throw fsError('set metadata of', err, p);
  }
}

export async function makeDirectory(p: string, m: Meta, asRoot: boolean): Promise<void> {
  try {
    await fsp.mkdir(p, { mode: 0o700 });
  } catch (err) {
    throw fsError('create directory', err, p);
  }
  await applyMeta(p, m, asRoot, false);
}

/** rename(2) `from` over `to`: atomic, the only way anything appears at a target. */
export async function renameOver(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (err) {
    throw fsError('rename', err, from, to);
  }
}

/** Keeps the old file reachable as `backup` while the target itself stays in place (link(2), no copy). */
export async function linkBackup(target: string, backup: string): Promise<void> {
  try {
    await fsp.link(target, backup);
  } catch (err) {
    throw fsError('keep a backup of', err, target, backup);
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return false;
    throw fsError('inspect', err, p);
  }
}

/** 'dir', 'other', or undefined when nothing is there. Never follows a final symlink. */
export async function kindAt(p: string): Promise<'dir' | 'other' | undefined> {
  try {
    return (await fsp.lstat(p)).isDirectory() ? 'dir' : 'other';
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError('inspect', err, p);
  }
}

/** Unlinks a non-directory if it is there. */
export async function unlinkIfPresent(p: string): Promise<void> {
  try {
    await fsp.unlink(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return;
    throw fsError('remove', err, p);
  }
}

/** Removes an empty directory if it is there. */
export async function rmdirIfPresent(p: string): Promise<void> {
  try {
    await fsp.rmdir(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return;
    throw fsError('remove directory', err, p);
  }
}

/**
 * Removes a directory if it is there and empty. Something put there since planning (a local file) keeps
 * it, as dpkg keeps a non-empty directory it would have removed.
 */
export async function rmdirIfEmpty(p: string): Promise<void> {
  try {
    await fsp.rmdir(p);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR' || errno === 'ENOTEMPTY' || errno === 'EEXIST') return;
    throw fsError('remove directory', err, p);
  }
}

/**
 * Removes a whole tree that overmerge made (a staging folder); never follows symlinks; idempotent. One
 * entry at a time, reading each folder as a stream: fs.rm starts an unlink for every entry of a folder
 * at once, which for a staging folder of 250,000 files costs hundreds of MiB.
 */
export async function removeTree(p: string): Promise<void> {
  let st;
  try {
    st = lstatSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw fsError('remove', err, p);
  }
  if (!st.isDirectory()) return removeOne(p, false);
  // Entries removed while a folder is read may still be listed (or others skipped): read it again until empty.
  for (let removed = 1; removed > 0; ) {
    removed = 0;
    let dir;
    try {
      dir = await fsp.opendir(p, { bufferSize: 256 });
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw fsError('remove', err, p);
    }
    for await (const e of dir) {
      const child = `${p}/${e.name}`;
      if (e.isDirectory()) await removeTree(child);
      else removeOne(child, false);
      removed++;
    }
  }
  removeOne(p, true);
}

/** Synchronous on purpose: an unlink takes microseconds, a thread-pool round trip per file costs more. */
function removeOne(p: string, directory: boolean): void {
  try {
    if (directory) rmdirSync(p);
    else unlinkSync(p);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError(directory ? 'remove directory' : 'remove', err, p);
  }
}

/** Opens for writing a name that must not exist yet, refusing to follow a symlink planted there. */
export async function createExclusive(p: string, mode = 0o600): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  } catch (err) {
    throw fsError('create', err, p);
  }
}
