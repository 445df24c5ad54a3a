import {
  chmodSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  opendirSync,
  promises as fsp,
  readdirSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  type BigIntStats,
  type Dirent,
  type Stats,
} from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { step, type StepHooks } from './steps';
import { hostDirOf, hostJoin, type HostPath } from './host-path';
import { mknod } from './mknod';


/**
 * Small filesystem primitives the install engine composes into undoable steps: making one entry with
 * its metadata under a fresh name, renaming it into place, keeping a hard-linked backup, removing what
 * a step made. Each refuses to follow a symlink at the final component, and each "remove" is idempotent
 * so that undo and recovery can run it from any state.
 *
 * The calls a step makes once per entry (make a folder or a link, set its owner, mode and times, rename,
 * unlink, rmdir, lstat) are synchronous inside, as lstatOrNull says why: steps run one after another,
 * and a bootstrap made 9,800 of them through the thread pool, each round trip costing more of the main
 * thread than the call itself. They stay async functions, so their callers need not care.
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
  linkFrom?: HostPath;
}

/** Creates a symlink, fifo, device node or hard link at the fresh name `at` (which must not exist). */
export async function createSpecial(at: HostPath, e: SpecialEntry, asRoot: boolean): Promise<void> {
  try {
    switch (e.type) {
      case 'symlink':
        symlinkSync(e.target ?? '', at);
        break;
      case 'hardlink':
        linkSync(e.linkFrom ?? '', at);
        return; // a hard link shares its target's inode and metadata
      case 'fifo':
        await mknod(at, e.mode & 0o777, { kind: 'fifo' });
        break;
      case 'char':
      case 'block':
        if (!asRoot) {
          throw new OvermergeError('E_FS', `cannot create device node ${at}: only root can (run as root)`, { op: 'mknod', path: at, errno: 'EPERM' });
        }
        await mknod(at, e.mode & 0o777, { kind: e.type, major: e.devmajor ?? 0, minor: e.devminor ?? 0 });
        break;
    }
  } catch (err) {
    throw fsError(`create ${e.type}`, err, at);
  }
  await applyMeta(at, e, asRoot, e.type === 'symlink');
}

/**
 * An overlayfs whiteout at the fresh name `at`: a character device 0/0, mode 0, as the kernel makes one
 * (fs/overlayfs/dir.c, ovl_whiteout), with the mtime given. Only root can make device nodes.
 */
export async function createWhiteout(at: HostPath, mtime: number): Promise<void> {
  try {
    await mknod(at, 0, { kind: 'char', major: 0, minor: 0 });
    await fsp.lutimes(at, mtime, mtime);
  } catch (err) {
    throw fsError('create whiteout', err, at);
  }
}

/** Whether `p` is a whiteout (a 0/0 character device); false when nothing is there. */
export async function isWhiteout(p: string): Promise<boolean> {
  const st = await lstatOrNull(p);
  return st !== null && st.isCharacterDevice() && st.rdev === 0n;
}

/** Owner, then mode (chown clears setuid/setgid), then times. Symlinks have no mode of their own. */
export async function applyMeta(p: HostPath, m: Meta, asRoot: boolean, isSymlink: boolean): Promise<void> {
  try {
    if (asRoot) lchownSync(p, m.uid, m.gid);
    if (!isSymlink) chmodSync(p, m.mode);
    lutimesSync(p, m.mtime, m.mtime);
  } catch (err) {
    throw fsError('set metadata of', err, p);
  }
}

/**
 * A folder only its owner may enter (staging, overmerge's own temporaries): made new, or with `parents`
 * also its missing parents (an existing one is kept as it is).
 */
export async function makePrivateDirectory(p: HostPath, op: string, opts: { parents?: boolean } = {}): Promise<void> {
  try {
    // Not through the thread pool: one call, which would wait there behind a staging's writes.
    mkdirSync(p, { mode: 0o700, recursive: opts.parents ?? false });
  } catch (err) {
    throw fsError(op, err, p);
  }
}

/**
 * The folders `parts` beneath `base`, each made with `mode` if missing (whatever the umask), refusing any
 * that is not a folder — a symlink planted there would lead the caller's later writes out of `base`.
 * Returns the innermost. Synchronous: a few calls when a root is opened.
 */
export function ensureFoldersSync(base: HostPath, parts: readonly string[], mode: number, refuse: (dir: HostPath) => Error): HostPath {
  let dir = base;
  for (const part of parts) {
    dir = hostJoin(dir, part);
    let st: Stats | undefined;
    try {
      st = lstatSync(dir, { throwIfNoEntry: false });
      if (st === undefined) {
        mkdirSync(dir, { mode });
        chmodSync(dir, mode);
        continue;
      }
    } catch (err) {
      throw fsError('create folder', err, dir);
    }
    if (!st.isDirectory()) throw refuse(dir);
  }
  return dir;
}

/** The folder of a file the user named (a database), with any missing parents; an existing one is kept. */
export function ensureParentFolderSync(file: HostPath, op: string): void {
  const dir = hostDirOf(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fsError(op, err, dir);
  }
}

export async function makeDirectory(p: HostPath, m: Meta, asRoot: boolean): Promise<void> {
  try {
    mkdirSync(p, { mode: 0o700 });
  } catch (err) {
    throw fsError('create directory', err, p);
  }
  await applyMeta(p, m, asRoot, false);
}

/** rename(2) `from` over `to`: atomic, the only way anything appears at a target. */
export async function renameOver(from: HostPath, to: HostPath): Promise<void> {
  try {
    renameSync(from, to);
  } catch (err) {
    throw fsError('rename', err, from, to);
  }
}

/** 'dir', 'other', or undefined when nothing is there. Never follows a final symlink. */
export async function kindAt(p: string): Promise<'dir' | 'other' | undefined> {
  try {
    return lstatSync(p).isDirectory() ? 'dir' : 'other';
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError('inspect', err, p);
  }
}

/** Unlinks a non-directory if it is there. */
export async function unlinkIfPresent(p: HostPath): Promise<void> {
  try {
    unlinkSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return;
    throw fsError('remove', err, p);
  }
}

/** Removes an empty directory if it is there. */
export async function rmdirIfPresent(p: HostPath): Promise<void> {
  try {
    rmdirSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return;
    throw fsError('remove directory', err, p);
  }
}

/**
 * Removes a directory if it is there and empty. Something put there since planning (a local file) keeps
 * it, as dpkg keeps a non-empty directory it would have removed. Says which; 'parent-gone' when neither it
 * nor its folder is there (a finish done again after both went).
 */
export async function rmdirIfEmpty(p: HostPath): Promise<'removed' | 'kept' | 'gone' | 'parent-gone'> {
  try {
    rmdirSync(p);
    return 'removed';
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT') return existsSync(hostDirOf(p)) ? 'gone' : 'parent-gone';
    if (errno === 'ENOTDIR' || errno === 'ENOTEMPTY' || errno === 'EEXIST') return 'kept';
    throw fsError('remove directory', err, p);
  }
}

/**
 * Removes a whole tree that overmerge made (a staging folder); never follows symlinks; idempotent. A
 * batch of entries at a time, reading each folder as a stream: fs.rm starts an unlink for every entry of a
 * folder at once, which for a staging folder of 250,000 files costs hundreds of MiB.
 */
export async function removeTree(p: HostPath): Promise<void> {
  let st;
  try {
    st = lstatSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw fsError('remove', err, p);
  }
  if (!st.isDirectory()) return removeOne(p, false);
  if (removeSmallFolderSync(p, SMALL_FOLDER) !== false) return;
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
    let files: HostPath[] = [];
    for await (const e of dir) {
      const child = hostJoin(p, e.name);
      if (e.isDirectory()) await removeTree(child);
      else files.push(child);
      removed++;
      if (files.length >= UNLINK_BATCH) {
        await unlinkAll(files);
        files = [];
      }
    }
    await unlinkAll(files);
  }
  removeOne(p, true);
}

/**
 * Removes folder `p` in one synchronous pass when it and the folders in it hold at most `budget` entries
 * in all; false when they hold more (what was removed stays removed; the caller goes on from there). A
 * transaction's small folders (dpkg's tmp.ci, a staging folder of a few scripts) are most of what is
 * removed in a bootstrap, and through the thread pool each took 3 to 9 ms of round trips (176 of tmp.ci
 * alone: 260 ms in all). Reads at most `budget` + 1 names of a folder, so memory does not follow its size.
 */
function removeSmallFolderSync(p: HostPath, budget: number): number | false {
  let dir;
  try {
    dir = opendirSync(p, { bufferSize: 32 });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return budget;
    throw fsError('remove', err, p);
  }
  const entries: Dirent[] = [];
  try {
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
      if (entries.length === budget) return false;
      entries.push(e);
    }
  } catch (err) {
    throw fsError('remove', err, p);
  } finally {
    dir.closeSync();
  }
  let left = budget - entries.length;
  for (const e of entries) {
    const child = hostJoin(p, e.name);
    if (!e.isDirectory()) {
      removeOne(child, false);
      continue;
    }
    const after = removeSmallFolderSync(child, left);
    if (after === false) return false;
    left = after;
  }
  try {
    rmdirSync(p);
  } catch (err) {
    // Something was put there meanwhile: the caller's pass reads the folder again.
    if (errnoOf(err) === 'ENOTEMPTY' || errnoOf(err) === 'EEXIST') return false;
    if (errnoOf(err) !== 'ENOENT') throw fsError('remove directory', err, p);
  }
  return left;
}

/** Entries in all up to which a tree is removed synchronously (removeSmallFolderSync). */
const SMALL_FOLDER = 64;

/** Entries gathered before they are unlinked together; bounded, so memory does not follow a folder's size. */
const UNLINK_BATCH = 256;
/** libuv's thread pool has four threads. */
const UNLINKS_IN_FLIGHT = 4;

/**
 * Unlinks several entries at a time through the thread pool: an unlink of a file whose blocks are on disk
 * mostly waits on the filesystem (journal, bitmaps), and four in flight took half the wall time of one
 * at a time for 2,100 synced files, on two cores (a moved-aside folder, the staging folder).
 */
async function unlinkAll(files: readonly HostPath[]): Promise<void> {
  if (files.length <= 1) {
    for (const f of files) removeOne(f, false);
    return;
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const f = files[next++];
      try {
        await fsp.unlink(f);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw fsError('remove', err, f);
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(UNLINKS_IN_FLIGHT, files.length) }, worker));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Synchronous on purpose: an unlink takes microseconds, a thread-pool round trip per file costs more. */
function removeOne(p: HostPath, directory: boolean): void {
  try {
    if (directory) rmdirSync(p);
    else unlinkSync(p);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError(directory ? 'remove directory' : 'remove', err, p);
  }
}

/**
 * Depth-first removal with a step per entry, in name order, so a crash can be injected halfway through
 * the removal of a moved-aside original (the state dpkg found unrecoverable) at the same entry every time.
 * Never follows symlinks. Each folder's listing says which children are folders (no lstat per entry), and
 * the calls are synchronous, one entry after another as rm -rf does: through an overlay, removing a
 * lower-layer entry is a whiteout made in the upper layer, microseconds that a thread-pool round trip per
 * entry more than doubled (5,000 files: 380-600 ms against rm -rf's 100-150 ms).
 */
export async function removeTreeStepwise(p: HostPath, hooks: StepHooks | undefined, known?: BigIntStats): Promise<void> {
  const st = known ?? (await lstatOrNull(p));
  if (!st) return;
  if (st.isDirectory()) await removeFolderStepwise(p, hooks);
  else await removeLeafStepwise(p, hooks);
}

async function removeFolderStepwise(p: HostPath, hooks: StepHooks | undefined): Promise<void> {
  let entries: Dirent[];
  try {
    entries = readdirSync(p, { withFileTypes: true });
  } catch (err) {
    // Gone since its parent was listed (or since recovery looked): nothing left to remove.
    if (errnoOf(err) === 'ENOENT') return;
    throw fsError('read directory', err, p);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const child = hostJoin(p, e.name);
    if (e.isDirectory()) await removeFolderStepwise(child, hooks);
    else await removeLeafStepwise(child, hooks);
  }
  await step(hooks, 'remove:entry', { path: p });
  removeOne(p, true);
}

async function removeLeafStepwise(p: HostPath, hooks: StepHooks | undefined): Promise<void> {
  await step(hooks, 'remove:entry', { path: p });
  try {
    unlinkSync(p);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return;
    throw fsError('remove', err, p);
  }
}

/**
 * lstat that answers null for a path that is not there (a missing parent included). Synchronous inside: a
 * transaction stats each path several times, one after another, and each promise-based call is a round
 * trip through libuv's thread pool whose wake-ups, on a busy machine, cost far more than the call.
 */
export async function lstatOrNull(p: string): Promise<BigIntStats | null> {
  try {
    return lstatSync(p, { bigint: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return null;
    throw fsError('stat', err, p);
  }
}
