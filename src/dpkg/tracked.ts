import * as fs from 'node:fs';
import { errnoOf, fsError } from '../errors';
import { identityOf, mayHaveChanged, type Identity } from './identity';

/**
 * A file of the admin directory as last read: its bytes and the identity of exactly those bytes (taken
 * with fstat on the descriptor they were read from, so a rename between stat and read cannot pair one
 * file's identity with another's bytes).
 */
export interface Tracked {
  readonly id: Identity | null;
  /** null when the file does not exist. */
  readonly bytes: Buffer | null;
}

export function readTracked(file: string): Tracked {
  const seenNs = BigInt(Date.now()) * 1_000_000n;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return { id: null, bytes: null };
    throw fsError('open', err, file);
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const bytes = fs.readFileSync(fd);
    return { id: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, seenNs }, bytes };
  } catch (err) {
    throw fsError('read', err, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file as it is now, and whether its bytes differ from `prev`'s. Costs one stat when the identity
 * proves nothing changed; a read when it changed or was racy (then the bytes decide).
 */
export function recheck(prev: Tracked, file: string): { now: Tracked; changed: boolean } {
  if (!mayHaveChanged(prev.id, identityOf(file))) return { now: prev, changed: false };
  const now = readTracked(file);
  return { now, changed: !sameBytes(prev.bytes, now.bytes) };
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

/**
 * Whether a directory may have changed since it was seen as `prev` (a different or a racy identity),
 * and its identity now, observed before the caller lists it again (so a change made while listing shows
 * up next time).
 */
export function recheckDir(prev: Identity | null, dir: string): { now: Identity | null; changed: boolean } {
  const now = identityOf(dir);
  return { now, changed: mayHaveChanged(prev, now) };
}

/**
 * A file held open so that its inode number cannot be handed to another file while we hold it (dpkg
 * does the same with diversions and statoverride): then a different identity is the only sign of a
 * change there can be, and no "racy" re-read is needed. Used for status, whose re-read would cost as
 * much as the status is large. Every file dpkg writes is replaced by a rename, never rewritten in place.
 */
export interface Pinned {
  readonly id: Identity | null;
  readonly fd: number | null;
}

export const UNPINNED: Pinned = { id: null, fd: null };

/** Opens `file`, takes its identity from the descriptor and, with `read`, its bytes. */
export function pin(file: string, read: boolean): { pinned: Pinned; bytes: Buffer | null } {
  const seenNs = BigInt(Date.now()) * 1_000_000n;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return { pinned: UNPINNED, bytes: null };
    throw fsError('open', err, file);
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const bytes = read ? fs.readFileSync(fd) : null;
    return { pinned: { id: { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, seenNs }, fd }, bytes };
  } catch (err) {
    fs.closeSync(fd);
    throw fsError('read', err, file);
  }
}

export function release(p: Pinned): void {
  if (p.fd !== null) fs.closeSync(p.fd);
}
