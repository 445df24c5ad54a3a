import { linkSync, promises as fsp, renameSync, unlinkSync, type BigIntStats } from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { copyEntry } from './copytree';
import type { CrossDevicePairs } from './cross-device';
import { applyOwnerModeXattrsSync, TimesBatch } from './metadata';
import { lstatOrNull } from './entries';
import { isInterrupted, step, unwrapInterrupted, type StepHooks } from './steps';
import { durableDir, durableFile, type SyncBatch } from './sync';
import { hostDirOf, type HostPath } from './host-path';
import { assertHostPath, newTempId, tempSibling } from './tempname';
import { readXattrsSync } from './xattr';

/**
 * rename: the staged entry is renamed to a temporary beside the target, then over the target (two
 * renames, so the inode's name never points back into staging, see Gentoo bug 626092).
 * copy: staging is only read; the root never shares an inode with it.
 * hardlink: linked to the temporary, renamed over the target, then the staged name is unlinked.
 * rename and hardlink fall back to copy on EXDEV (staging on another filesystem), and both consume the
 * staged entry (its name is gone once placed); copy leaves staging as it was.
 */
export type PlaceMode = 'rename' | 'copy' | 'hardlink';

/** Plain JSON for the journal: record it before calling place, undo it with undoPlace. */
export interface PlacePlan {
  readonly version: 1;
  readonly staged: HostPath;
  readonly target: HostPath;
  /** Sibling of target where the new entry waits for its final rename (unused for directories). */
  readonly temp: HostPath;
  readonly mode: PlaceMode;
}

export function planPlace(staged: HostPath, target: HostPath, mode: PlaceMode = 'rename', id: string = newTempId()): PlacePlan {
  assertHostPath(staged, 'place');
  assertHostPath(target, 'place');
  return { version: 1, staged, target, temp: tempSibling(target, 'new', id), mode };
}

export interface PlaceOptions {
  hooks?: StepHooks;
  /** Collects file and directory syncs for the engine to flush; without it each is synced at once. */
  sync?: SyncBatch;
  /** Folder pairs known to be on different filesystems: placed by copy without trying rename or link first. */
  crossDevice?: CrossDevicePairs;
}

export type PlaceMethod = 'rename' | 'hardlink' | 'copy' | 'mkdir' | 'existing-dir';

export interface PlaceResult {
  /** How the entry got to its temporary (or, for directories, what was done). */
  method: PlaceMethod;
  /** rename/hardlink was asked for but the staging was on another filesystem. */
  exdevFallback: boolean;
}

/**
 * Puts the staged entry at its target atomically: the target is either the old entry or the complete
 * new one, never a half-written file, and nothing is ever written into an existing file (a process that
 * has the old file open, or is running it, keeps the old inode). Directories are created in place; an
 * existing directory is left as it is. A target that is a directory while the staged entry is not is
 * refused: move it aside first.
 *
 * Equivalent to preparePlace then commitPlace. For batched durability call those two yourself, with a
 * SyncBatch flushed between them (file data durable before any rename makes it visible).
 *
 * Steps: place:start, place:temp, copy:entry, place:commit, place:unlink-staged, place:done.
 */
export async function place(plan: PlacePlan, opts: PlaceOptions = {}): Promise<PlaceResult> {
  try {
    // Without a batch the temporary is synced before the rename; with one, the data is synced at the
    // engine's flush, before its journal says the step is done.
    const { result, isFile } = await prepareSteps(plan, { hooks: opts.hooks, crossDevice: opts.crossDevice }, !opts.sync);
    if (result.method !== 'mkdir' && result.method !== 'existing-dir') {
      await commitSteps(plan, opts);
      if (isFile && opts.sync) opts.sync.addFile(plan.target);
    }
    await durableDir(opts.sync, hostDirOf(plan.target));
    await step(opts.hooks, 'place:done', { path: plan.target });
    return result;
  } catch (err) {
    await dropTempAfterFailure(plan, err);
    throw unwrapInterrupted(err);
  }
}

/**
 * `place` for a regular file the caller knows is one (a manifest's file): in rename mode, one rename(2)
 * from staging over the target, with no temporary, no stat of the staged name and no unlink of it
 * afterwards (rename consumed it). The result is the same inode under the target's name, replacing what
 * was there atomically, as the two renames gave; undoPlace finds no temporary and handles the target as
 * before. The same crash points are passed, so a pause or kill lands where it did. On EXDEV (staging on
 * another filesystem) and in the other modes, `place` does the work.
 */
export async function placeFile(plan: PlacePlan, opts: PlaceOptions = {}): Promise<PlaceResult> {
  // Without a batch the data must be synced before a rename makes it visible: `place` does that.
  if (plan.mode !== 'rename' || !opts.sync || opts.crossDevice?.has(plan.staged, plan.target)) return place(plan, opts);
  try {
    await step(opts.hooks, 'place:start', { path: plan.target });
    await step(opts.hooks, 'place:temp', { path: plan.temp });
    await step(opts.hooks, 'place:commit', { path: plan.target });
    try {
      renameSync(plan.staged, plan.target);
    } catch (err) {
      if (errnoOf(err) === 'EXDEV') {
        opts.crossDevice?.remember(plan.staged, plan.target);
        return await place(plan, opts);
      }
      throw placeError(plan, plan.staged, err);
    }
    opts.sync.addFile(plan.target);
    await durableDir(opts.sync, hostDirOf(plan.target));
    await step(opts.hooks, 'place:done', { path: plan.target });
    return { method: 'rename', exdevFallback: false };
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

/** A rename onto the target failed: a directory in the way is said as such. */
function placeError(plan: PlacePlan, from: HostPath, err: unknown): OvermergeError {
  const errno = errnoOf(err);
  if (errno === 'EISDIR' || errno === 'ENOTEMPTY' || errno === 'EEXIST') {
    return new OvermergeError('E_FS', `cannot place ${plan.target}: a directory is in the way`, {
      op: 'place',
      path: from,
      dest: plan.target,
      errno,
      hint: 'move the directory aside first',
      cause: err,
    });
  }
  return fsError('place', err, from, plan.target);
}

/** A real failure (not a simulated crash) leaves the target as it was and no temporary behind. */
async function dropTempAfterFailure(plan: PlacePlan, err: unknown): Promise<void> {
  if (isInterrupted(err)) return;
  try {
    if (await lstatOrNull(plan.temp)) await giveBackOrRemove(plan, plan.temp);
  } catch {
    // The original error is what the caller needs; undoPlace can retry the cleanup.
  }
}

/**
 * First half of place: the new entry exists at plan.temp (a directory is created at the target itself).
 * With a SyncBatch the temporary is added to it; flush before commitPlace.
 */
export async function preparePlace(plan: PlacePlan, opts: PlaceOptions = {}): Promise<PlaceResult> {
  try {
    const { result } = await prepareSteps(plan, opts, true);
    if (result.method === 'mkdir') await durableDir(opts.sync, hostDirOf(plan.target));
    return result;
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

/** Second half: the temporary replaces the target in one rename. */
export async function commitPlace(plan: PlacePlan, opts: PlaceOptions = {}): Promise<void> {
  try {
    if (!(await lstatOrNull(plan.temp))) {
      const tst = await lstatOrNull(plan.target);
      if (tst?.isDirectory()) return; // a directory placement has nothing to commit
    }
    await commitSteps(plan, opts);
    await durableDir(opts.sync, hostDirOf(plan.target));
  } catch (err) {
    await dropTempAfterFailure(plan, err);
    throw unwrapInterrupted(err);
  }
}

async function prepareSteps(
  plan: PlacePlan,
  opts: PlaceOptions,
  syncTemp: boolean,
): Promise<{ result: PlaceResult; isFile: boolean }> {
  await step(opts.hooks, 'place:start', { path: plan.target });
  const st = await lstatOrNull(plan.staged);
  if (!st) throw fsError('place', Object.assign(new Error('missing'), { code: 'ENOENT' }), plan.staged, plan.target);
  if (st.isDirectory()) return { result: await placeDirectory(plan, st, opts), isFile: false };
  await step(opts.hooks, 'place:temp', { path: plan.temp });
  const result = await makeTemp(plan, opts);
  // Symlinks and special files have no data; their directory's sync covers them.
  if (syncTemp && st.isFile()) await durableFile(opts.sync, plan.temp);
  return { result, isFile: st.isFile() };
}

async function makeTemp(plan: PlacePlan, opts: PlaceOptions): Promise<PlaceResult> {
  if (plan.mode !== 'copy' && !opts.crossDevice?.has(plan.staged, plan.temp)) {
    try {
      // Synchronous, as in commitSteps: one call per file, in sequence, with no thread pool round trip.
      if (plan.mode === 'rename') renameSync(plan.staged, plan.temp);
      else linkSync(plan.staged, plan.temp);
      return { method: plan.mode, exdevFallback: false };
    } catch (err) {
      if (errnoOf(err) !== 'EXDEV') throw fsError(plan.mode === 'rename' ? 'place (rename)' : 'place (link)', err, plan.staged, plan.temp);
      opts.crossDevice?.remember(plan.staged, plan.temp);
    }
  }
  try {
    await copyEntry(plan.staged, plan.temp, { hooks: opts.hooks });
  } catch (err) {
    // A real failure (ENOSPC…) leaves no partial temporary; a simulated crash leaves what a kill would.
    if (!isInterrupted(err)) await fsp.rm(plan.temp, { force: true }).catch(() => undefined);
    throw err;
  }
  return { method: 'copy', exdevFallback: plan.mode !== 'copy' };
}

async function commitSteps(plan: PlacePlan, opts: PlaceOptions): Promise<void> {
  await step(opts.hooks, 'place:commit', { path: plan.target });
  try {
    renameSync(plan.temp, plan.target);
  } catch (err) {
    throw placeError(plan, plan.temp, err);
  }
  // rename and hardlink consume the staged entry, also when EXDEV made them copy.
  if (plan.mode !== 'copy') {
    await step(opts.hooks, 'place:unlink-staged', { path: plan.staged });
    try {
      unlinkSync(plan.staged);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw fsError('remove staged', err, plan.staged);
    }
  }
}

/** Created in place with the staged directory's owner, mode, xattrs and times; an existing one is kept. */
async function placeDirectory(plan: PlacePlan, st: BigIntStats, opts: PlaceOptions): Promise<PlaceResult> {
  const existing = await lstatOrNull(plan.target);
  if (existing?.isDirectory()) return { method: 'existing-dir', exdevFallback: false };
  if (existing) {
    throw new OvermergeError('E_FS', `cannot place directory ${plan.target}: a non-directory is in the way`, {
      op: 'place',
      path: plan.staged,
      dest: plan.target,
      hint: 'move it aside first',
    });
  }
  await step(opts.hooks, 'place:mkdir', { path: plan.target });
  try {
    await fsp.mkdir(plan.target, { mode: 0o700 });
  } catch (err) {
    throw fsError('create directory', err, plan.target);
  }
  applyOwnerModeXattrsSync(plan.target, st, readXattrsSync(plan.staged, false), { asRoot: process.getuid?.() === 0 });
  const times = new TimesBatch();
  times.add(plan.target, st);
  await times.flush();
  return { method: 'mkdir', exdevFallback: false };
}

export interface UndoPlaceOptions extends PlaceOptions {
  /**
   * The target did not exist before this placement, so whatever is there now came from it and is
   * removed (a directory only if empty). Leave false when a backup will be restored over the target:
   * restoreBackup replaces it atomically.
   */
  removeTarget?: boolean;
}

/**
 * Undoes a placement from any point it stopped at. Idempotent. A renamed or hard-linked entry goes back
 * to its staged name when that name is free, so the placement can be retried.
 *
 * Steps: undo-place:start, undo-place:temp, undo-place:target, undo-place:done.
 */
export async function undoPlace(plan: PlacePlan, opts: UndoPlaceOptions = {}): Promise<void> {
  try {
    await step(opts.hooks, 'undo-place:start', { path: plan.target });
    if (await lstatOrNull(plan.temp)) {
      await step(opts.hooks, 'undo-place:temp', { path: plan.temp });
      await giveBackOrRemove(plan, plan.temp);
    }
    if (opts.removeTarget) {
      const tst = await lstatOrNull(plan.target);
      if (tst) {
        await step(opts.hooks, 'undo-place:target', { path: plan.target });
        if (tst.isDirectory()) await removeEmptyDir(plan.target);
        else await giveBackOrRemove(plan, plan.target);
      }
    }
    await durableDir(opts.sync, hostDirOf(plan.target));
    await step(opts.hooks, 'undo-place:done', { path: plan.target });
  } catch (err) {
    throw unwrapInterrupted(err);
  }
}

async function giveBackOrRemove(plan: PlacePlan, p: HostPath): Promise<void> {
  if (plan.mode !== 'copy' && !(await lstatOrNull(plan.staged))) {
    try {
      await fsp.rename(p, plan.staged);
      return;
    } catch (err) {
      if (errnoOf(err) !== 'EXDEV' && errnoOf(err) !== 'ENOENT') throw fsError('undo place', err, p, plan.staged);
    }
  }
  try {
    await fsp.unlink(p);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError('undo place', err, p);
  }
}

async function removeEmptyDir(p: HostPath): Promise<void> {
  try {
    await fsp.rmdir(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw fsError('undo place of directory', err, p);
  }
}
