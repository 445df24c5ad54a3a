import * as fs from 'node:fs';
import { errnoOf, fsError } from '../errors';

/**
 * What tells us a file or directory of the admin directory changed behind our back, for the price of one
 * stat: dpkg replaces every file by renaming a new one over it, so the inode changes with each write, and
 * an added or removed entry changes a directory's mtime and ctime.
 *
 * Two things make a bare comparison unsafe, and the "racy" flag covers both: a freed inode number is
 * often handed to the very next file created (dpkg-divert run twice in a row can leave `diversions` on its
 * old inode number), and timestamps come from a coarse clock, so two changes within one tick leave the
 * same mtime. An identity observed less than RACY_WINDOW after the file's last change is racy: the next
 * check compares contents (files) or lists again (directories) instead of trusting the stat. The same idea
 * as git's racily-clean index entries.
 */
export interface Identity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  /** When we looked, in the filesystem clock's nanoseconds. */
  readonly seenNs: bigint;
}

/** One second: far more than the kernel's timestamp granularity (a jiffy) and clock skew on NFS. */
export const RACY_WINDOW_NS = 1_000_000_000n;

/** The identity of `p`, or null when it does not exist. */
export function identityOf(p: string): Identity | null {
  const seenNs = BigInt(Date.now()) * 1_000_000n;
  try {
    const st = fs.statSync(p, { bigint: true });
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, seenNs };
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return null;
    throw fsError('stat', err, p);
  }
}

/** Same stat data (both missing counts as the same). */
export function sameIdentity(a: Identity | null, b: Identity | null): boolean {
  if (a === null || b === null) return a === b;
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Whether `id` was observed too soon after its last change for the stat to prove a later change absent. */
export function isRacy(id: Identity | null): boolean {
  if (id === null) return false;
  const changed = id.mtimeNs > id.ctimeNs ? id.mtimeNs : id.ctimeNs;
  return changed + RACY_WINDOW_NS >= id.seenNs;
}

/** Whether `now` may differ from what was seen as `before`: a different stat, or a racy one. */
export function mayHaveChanged(before: Identity | null, now: Identity | null): boolean {
  return !sameIdentity(before, now) || isRacy(before);
}
