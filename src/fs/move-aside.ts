import { linkSync, promises as fsp, renameSync, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { copyTree } from './copytree';
import { lstatOrNull, removeTree as removeOwnTree, removeTreeStepwise, unlinkIfPresent } from './entries';
import { sameEntry, sameInode } from './metadata';
import { isInterrupted, step, unwrapInterrupted, type StepHooks } from './steps';
import { durableDir, syncFilesystem, fsyncDir, fsyncFile, type SyncBatch } from './sync';
import { hostDirOf, type HostPath } from './host-path';
import { assertHostPath, newTempId, tempSibling } from './tempname';

/**
 * Everything needed to undo or finish a move-aside, in a new process after a crash: plain JSON for the
 * journal. All names are siblings of `original` and are fixed before anything happens, so the journal can
 * record the handle first and recovery can find whatever exists. restoreBackup/discardBackup read the
 * state from the filesystem (which of these names exist), never from `method`.
 */
export interface BackupHandle {
  readonly version: 1;
  /** The path being moved aside. */
  readonly original: HostPath;
  /** Where the original lives once it is aside (renamed, linked, or a complete copy). */
  readonly backup: HostPath;
  /** Copy fallback: the copy while it is being written. Its existence means "original untouched". */
  readonly incomplete: HostPath;
  /** Copy fallback: the complete, synced copy while the original is being removed. */
  readonly pending: HostPath;
  /** The backup while it is being deleted by discardBackup: it can no longer be restored. */
  readonly trash: HostPath;
  /** Back up a non-directory while leaving it in place (hard link, or a copy if linking fails). */
  readonly keepOriginal: boolean;
  /** How the move was done; null until moveAside has chosen. Informational only. */
  readonly method: 'rename' | 'copy' | 'link' | null;
}

export type BackupMethod = NonNullable<BackupHandle['method']>;

export interface PlanMoveAsideOptions {
  keepOriginal?: boolean;
  /** The temporary id (tests); a fresh random one by default. */
  id?: string;
}

/** Pure: names the handle's temporaries. Journal it before calling moveAside. */
export function planMoveAside(original: HostPath, opts: PlanMoveAsideOptions = {}): BackupHandle {
  assertHostPath(original, 'move aside');
  const id = opts.id ?? newTempId();
  return {
    version: 1,
    original,
    backup: tempSibling(original, 'aside', id),
    incomplete: tempSibling(original, 'incomplete', id),
    pending: tempSibling(original, 'pending', id),
    trash: tempSibling(original, 'trash', id),
    keepOriginal: opts.keepOriginal ?? false,
    method: null,
  };
}

export interface MoveAsideOptions {
  hooks?: StepHooks;
  /** Collects the final directory syncs; without it each is synced at once. */
  sync?: SyncBatch;
  /** Skip the rename/link attempt and take the copy fallback (tests, benchmarks, filesystems known to refuse). */
  forceCopy?: boolean;
}

/**
 * Moves `handle.original` (file, symlink, special file or directory tree) to `handle.backup`. Tries an
 * atomic rename (or, with keepOriginal, a hard link); on EXDEV, as overlayfs answers for a directory from
 * a lower layer, copies the tree beside it instead:
 *
 *   copy to `incomplete` → sync → rename to `pending` → remove the original → rename to `backup`
 *
 * so that at every instant the names that exist say which of original and copy is whole. The copy is
 * made durable before the original is touched, whatever `sync` says. Returns the handle with `method` set.
 *
 * Steps: aside:start, aside:rename | aside:link, copy:start, copy:entry…, copy:sync, copy:rename,
 * remove:start, remove:entry…, remove:done, aside:done.
 */
export async function moveAside(handle: BackupHandle, opts: MoveAsideOptions = {}): Promise<BackupHandle> {
  try {
    return await moveAsideSteps(handle, opts);
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

async function moveAsideSteps(h: BackupHandle, opts: MoveAsideOptions): Promise<BackupHandle> {
  const dir = hostDirOf(h.original);
  await step(opts.hooks, 'aside:start', { path: h.original });
  const st = await lstatOrNull(h.original);
  if (!st) throw fsError('move aside', Object.assign(new Error('missing'), { code: 'ENOENT' }), h.original);
  if (h.keepOriginal && st.isDirectory()) {
    throw new OvermergeError('E_INTERNAL', `cannot back up directory ${h.original} in place`, {
      op: 'move aside',
      path: h.original,
      hint: 'directories are moved aside, not kept in place',
    });
  }
  if (!opts.forceCopy) {
    const fast = await tryFastPath(h, opts);
    if (fast) {
      await durableDir(opts.sync, dir);
      await step(opts.hooks, 'aside:done', { path: h.backup });
      return { ...h, method: fast };
    }
  }
  try {
    await copyFallback(h, st, opts);
  } catch (err) {
    if (isInterrupted(err)) throw err;
    throw await fallbackFailed(h, err, opts);
  }
  await step(opts.hooks, 'aside:done', { path: h.backup });
  return { ...h, method: 'copy' };
}

/** The atomic way, or undefined when only a copy can do it. */
async function tryFastPath(h: BackupHandle, opts: MoveAsideOptions): Promise<BackupMethod | undefined> {
  const method: BackupMethod = h.keepOriginal ? 'link' : 'rename';
  await step(opts.hooks, `aside:${method}`, { path: h.original });
  try {
    // Synchronous, as placing is: one call per file, with no thread-pool round trip.
    if (method === 'link') linkSync(h.original, h.backup);
    else renameSync(h.original, h.backup);
    return method;
  } catch (err) {
    const errno = errnoOf(err);
    // EXDEV: overlayfs lower directory. A link may also be refused for a too many links or by policy.
    if (errno === 'EXDEV' || (method === 'link' && (errno === 'EMLINK' || errno === 'EPERM'))) return undefined;
    throw fsError('move aside', err, h.original, h.backup);
  }
}

async function copyFallback(h: BackupHandle, st: BigIntStats, opts: MoveAsideOptions): Promise<void> {
  const dir = hostDirOf(h.original);
  await step(opts.hooks, 'copy:start', { path: h.incomplete });
  const copied = await copyTree(h.original, h.incomplete, { hooks: opts.hooks });
  await step(opts.hooks, 'copy:sync', { path: h.incomplete });
  await makeDurable(copied.files, copied.dirs);
  const next = h.keepOriginal ? h.backup : h.pending;
  await step(opts.hooks, 'copy:rename', { path: next });
  await rename(h.incomplete, next, 'move aside');
  await fsyncDir(dir);
  if (h.keepOriginal) return;
  await step(opts.hooks, 'remove:start', { path: h.original });
  await removeTreeStepwise(h.original, opts.hooks, st);
  await fsyncDir(dir);
  await step(opts.hooks, 'remove:done', { path: h.original });
  await rename(h.pending, h.backup, 'move aside');
  await durableDir(opts.sync, dir);
}

/** Before the original may be removed, its copy must survive a power cut. */
async function makeDurable(files: HostPath[], dirs: HostPath[]): Promise<void> {
  if (files.length + dirs.length > 64) {
    await syncFilesystem(dirs[0] ?? files[0]);
    return;
  }
  for (const f of files) await fsyncFile(f);
  for (const d of dirs) await fsyncDir(d);
}

/**
 * After a real failure (not a simulated crash) put things back as they were, then report. ENOSPC keeps
 * its own code: the user's remedy is space, not a bug report.
 */
async function fallbackFailed(h: BackupHandle, err: unknown, opts: MoveAsideOptions): Promise<OvermergeError> {
  let undone = true;
  try {
    await restoreSteps(h, { sync: opts.sync });
  } catch {
    undone = false;
  }
  const cause = err instanceof OvermergeError ? err : fsError('copy', err, h.original);
  const state = undone ? 'partial copy removed, original untouched' : `backup state left for recovery at ${h.pending}`;
  if (cause.code === 'E_NO_SPACE') {
    const size = await treeBytes(h.original).catch(() => undefined);
    const needs = size === undefined ? '' : ` of ${size} bytes`;
    return new OvermergeError('E_NO_SPACE', `cannot move aside ${h.original}: no space left for its copy${needs} (${state})`, {
      op: 'move aside (copy fallback)',
      path: h.original,
      dest: h.backup,
      errno: cause.errno,
      hint: 'free space on the filesystem holding it (for an overlay root: the upper layer)',
      cause,
    });
  }
  return new OvermergeError('E_EXDEV_FALLBACK_FAILED', `cannot move aside ${h.original}: ${cause.message} (${state})`, {
    op: 'move aside (copy fallback)',
    path: h.original,
    dest: h.backup,
    errno: cause.errno,
    cause,
  });
}

/** The bytes of the regular files in a tree (what a copy of it needs, directories aside). */
async function treeBytes(p: string): Promise<number> {
  const st = await fsp.lstat(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let sum = 0;
  for (const name of await fsp.readdir(p)) sum += await treeBytes(path.join(p, name));
  return sum;
}

export type BackupState =
  | 'none' // no temporary exists: not started, or already restored / discarded
  | 'copying' // `incomplete` exists: the original is untouched
  | 'removing' // `pending` exists: the copy is whole, the original may be partly removed
  | 'aside' // `backup` exists: the move is complete
  | 'discarding'; // `trash` exists: the backup is being deleted

/** Reads the state from the names that exist. */
export async function backupState(h: BackupHandle): Promise<BackupState> {
  if (await lstatOrNull(h.trash)) return 'discarding';
  if (await lstatOrNull(h.incomplete)) return 'copying';
  if (await lstatOrNull(h.pending)) return 'removing';
  if (await lstatOrNull(h.backup)) return 'aside';
  return 'none';
}

export interface RecoverOptions {
  hooks?: StepHooks;
  sync?: SyncBatch;
}

/**
 * Puts the original back exactly, from any state a move-aside (or an earlier restore) stopped in.
 * Idempotent. Whatever was placed at the original path after the move must have been undone first;
 * a file there is replaced atomically, a non-empty directory is refused.
 * Refuses once discardBackup has started. Returns the state it found.
 *
 * Steps: restore:start, restore:drop-incomplete, restore:clear-original, remove:entry…, restore:rename,
 * restore:unlink-link, restore:done.
 */
export async function restoreBackup(h: BackupHandle, opts: RecoverOptions = {}): Promise<BackupState> {
  try {
    return await restoreSteps(h, opts);
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

async function restoreSteps(h: BackupHandle, opts: RecoverOptions): Promise<BackupState> {
  const dir = hostDirOf(h.original);
  const found = await backupState(h);
  await step(opts.hooks, 'restore:start', { path: h.original });
  if (found === 'discarding') {
    throw new OvermergeError('E_FS', `cannot restore ${h.original}: its backup is being discarded`, {
      op: 'restore',
      path: h.original,
      dest: h.trash,
      hint: 'finish with discardBackup; the transaction was already committed',
    });
  }
  if (found === 'copying') {
    // The copy never completed, so the original was never touched.
    await step(opts.hooks, 'restore:drop-incomplete', { path: h.incomplete });
    await removeOwnTree(h.incomplete);
    await durableDir(opts.sync, dir);
  } else if (found === 'removing') {
    // The copy is whole; what is left at the original path may be a partly removed original.
    if (await lstatOrNull(h.original)) {
      await step(opts.hooks, 'restore:clear-original', { path: h.original });
      await removeTreeStepwise(h.original, opts.hooks);
    }
    await step(opts.hooks, 'restore:rename', { path: h.original });
    await rename(h.pending, h.original, 'restore');
    await durableDir(opts.sync, dir);
  } else if (found === 'aside') {
    await restoreFromBackup(h, opts);
    await durableDir(opts.sync, dir);
  }
  await step(opts.hooks, 'restore:done', { path: h.original });
  return found;
}

async function restoreFromBackup(h: BackupHandle, opts: RecoverOptions): Promise<void> {
  const [bst, ost] = await Promise.all([lstatOrNull(h.backup), lstatOrNull(h.original)]);
  // A hard-link backup of a file never replaced: rename(2) between two links of one inode does nothing.
  if (bst && ost && (sameInode(bst, ost) || (await sameLinkOnOverlay(h, bst, ost)))) {
    await step(opts.hooks, 'restore:unlink-link', { path: h.backup });
    await unlinkIfPresent(h.backup);
    return;
  }
  await step(opts.hooks, 'restore:rename', { path: h.original });
  try {
    await fsp.rename(h.backup, h.original);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOTEMPTY' || errno === 'EEXIST' || errno === 'EISDIR' || errno === 'ENOTDIR') {
      throw new OvermergeError('E_FS', `cannot restore ${h.original}: the path is occupied by something placed since`, {
        op: 'restore',
        path: h.backup,
        dest: h.original,
        errno,
        hint: 'undo the placement at that path first (undoPlace), then restore',
        cause: err,
      });
    }
    throw fsError('restore', err, h.backup, h.original);
  }
}

/**
 * On overlayfs without xino, a file copied up from a lower layer keeps reporting the lower st_dev/st_ino
 * while a new hard link to it reports the upper ones, and rename(2) from one link onto the other fails
 * with ESTALE (seen with a tmpfs upper layer). Such a link is recognised by what it holds: when the two
 * names have the same metadata and bytes, dropping the backup name restores the original just as well.
 */
async function sameLinkOnOverlay(h: BackupHandle, bst: BigIntStats, ost: BigIntStats): Promise<boolean> {
  if (!h.keepOriginal || bst.nlink < 2n || ost.nlink < 2n) return false;
  return sameEntry(h.backup, h.original);
}

/**
 * Lets go of the backup: afterwards no temporary is left. Idempotent. When the move-aside had not got
 * as far as a whole copy ('none', 'copying') the original is still in place and stays there; from
 * 'removing' on, the move is finished first (the rest of the original removed). Returns the state found.
 *
 * Steps: discard:start, discard:drop-incomplete, discard:clear-original, remove:entry…, discard:unlink (a
 * non-directory backup) or discard:trash and discard:remove-trash (a folder), discard:done.
 */
export async function discardBackup(h: BackupHandle, opts: RecoverOptions = {}): Promise<BackupState> {
  try {
    return await discardSteps(h, opts);
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

async function discardSteps(h: BackupHandle, opts: RecoverOptions): Promise<BackupState> {
  const dir = hostDirOf(h.original);
  if (await unlinkedAtOnce(h, opts)) return 'aside';
  const found = await backupState(h);
  await step(opts.hooks, 'discard:start', { path: h.backup });
  if (found === 'copying') {
    await step(opts.hooks, 'discard:drop-incomplete', { path: h.incomplete });
    await removeOwnTree(h.incomplete);
  } else if (found === 'removing') {
    if (await lstatOrNull(h.original)) {
      await step(opts.hooks, 'discard:clear-original', { path: h.original });
      await removeTreeStepwise(h.original, opts.hooks);
      await fsyncDir(dir);
    }
    await step(opts.hooks, 'discard:trash', { path: h.trash });
    await rename(h.pending, h.trash, 'discard backup');
  } else if (found === 'aside' && !(await lstatOrNull(h.backup))?.isDirectory()) {
    // One unlink lets go of a non-directory at once: there is no half-deleted state to guard against.
    await step(opts.hooks, 'discard:unlink', { path: h.backup });
    await removeOwnTree(h.backup); // for a non-directory, synchronous: no thread-pool round trip per file
  } else if (found === 'aside') {
    // A folder is renamed first so that a half-deleted backup can never be mistaken for a whole one.
    await step(opts.hooks, 'discard:trash', { path: h.trash });
    await rename(h.backup, h.trash, 'discard backup');
  }
  if (await lstatOrNull(h.trash)) {
    await step(opts.hooks, 'discard:remove-trash', { path: h.trash });
    await removeOwnTree(h.trash);
  }
  // Run again after the commit (recover), the directory may be gone already: an emptied directory is
  // removed after its children's backups are discarded, and then there is nothing left to sync.
  if (found !== 'none' || (await lstatOrNull(dir))) await durableDir(opts.sync, dir);
  await step(opts.hooks, 'discard:done', { path: h.original });
  return found;
}

/**
 * The common case of discardBackup, in one call instead of five stats and an unlink: a non-directory
 * backup that exists. `backup` never exists beside `trash`, `incomplete` or `pending` (each becomes or
 * comes from it by rename), so when unlink(2) takes it, the state was 'aside' and nothing else is left.
 * Any other answer (not there, a directory: EISDIR) goes the long way, which reads the state.
 */
async function unlinkedAtOnce(h: BackupHandle, opts: RecoverOptions): Promise<boolean> {
  await step(opts.hooks, 'discard:unlink', { path: h.backup });
  try {
    // Awaited through the thread pool: finishes run several at a time (engine/phases/execute.ts).
    await fsp.unlink(h.backup);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'EISDIR' || errno === 'EPERM' || errno === 'ENOTDIR') return false;
    throw fsError('discard backup', err, h.backup);
  }
  await durableDir(opts.sync, hostDirOf(h.original));
  await step(opts.hooks, 'discard:done', { path: h.original });
  return true;
}

async function rename(from: HostPath, to: HostPath, op: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (err) {
    throw fsError(op, err, from, to);
  }
}
