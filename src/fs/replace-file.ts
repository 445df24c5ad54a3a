import { promises as fsp } from 'node:fs';
import { errnoOf, fsError } from '../errors';
import { createExclusive, renameOver, unlinkIfPresent } from './entries';
import { fsyncDir } from './sync';

/**
 * Replaces a small whole file the way dpkg replaces its database files: the complete text under a
 * side name in the same folder, then rename(2) over the target, so a reader sees the old file or the new
 * one, never a mix. The side name is the caller's (dpkg's own, `File-new`, `Unincorp.new`, so that its
 * leftovers look like dpkg's); a leftover from an interrupted writer is removed first, and the side file
 * is created afresh (O_EXCL, O_NOFOLLOW), never written through something planted there.
 */
export interface ReplaceFileOptions {
  /** Permission bits of the new file (dpkg: 0644). */
  mode: number;
  /** fsync the file before the rename (dpkg's atomic_file does; its Unincorp writer does not). */
  sync: boolean;
}

export async function replaceFile(target: string, sideName: string, text: string, opts: ReplaceFileOptions): Promise<void> {
  await unlinkIfPresent(sideName);
  const fh = await createExclusive(sideName, opts.mode);
  try {
    await fh.writeFile(text);
    await fh.chmod(opts.mode); // the umask may have taken bits away at creation
    if (opts.sync) await fh.sync();
  } catch (err) {
    throw fsError('write', err, sideName);
  } finally {
    await fh.close();
  }
  await renameOver(sideName, target);
}

/** Reads a whole file as latin1 text (one character per byte, as dpkg reads), or undefined if it is absent. */
export async function readIfPresent(p: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(p, 'latin1');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw fsError('read', err, p);
  }
}

/** Creates a folder (not its parents) if it is missing. */
export async function ensureFolder(p: string, mode: number): Promise<void> {
  try {
    await fsp.mkdir(p, { mode });
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw fsError('create directory', err, p);
  }
}

/** Creates an empty file if there is none (a lock file: its content never matters). */
export async function ensureFile(p: string, mode: number): Promise<void> {
  try {
    await (await fsp.open(p, 'a', mode)).close();
  } catch (err) {
    throw fsError('create', err, p);
  }
}

/** Removes a file if it is there, and makes the removal durable. */
export async function removeFileDurably(p: string, folder: string): Promise<void> {
  await unlinkIfPresent(p);
  await fsyncDir(folder);
}

export { fsyncDir };
