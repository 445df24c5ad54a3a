import * as xattr from 'fs-xattr';
import { errnoOf, fsError } from '../errors';
import type { HostPath } from './host-path';

/** Extended attributes of one inode, in listing order: name and raw value. */
export type Xattrs = Array<[name: string, value: Buffer]>;

/**
 * overlayfs keeps its own bookkeeping in trusted.overlay.* on the layers; copied onto a new inode it would
 * make overlayfs misread that inode (a stray `opaque` or `redirect`), so it is never copied. Through the
 * merged view the kernel hides these anyway; this matters when a layer itself is being copied.
 */
function isCopyable(name: string): boolean {
  return !name.startsWith('trusted.overlay.');
}

const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP']);

/**
 * fs-xattr has no l*xattr variants, so it would read a symlink's target; Linux allows only trusted.* and
 * security.* on symlinks and they are practically never set, so symlinks are treated as having none.
 */
export async function readXattrs(p: string, isSymlink: boolean): Promise<Xattrs> {
  if (isSymlink) return [];
  let names: string[];
  try {
    names = await xattr.listAttributes(p);
  } catch (err) {
    if (UNSUPPORTED.has(errnoOf(err) ?? '')) return [];
    throw fsError('list extended attributes of', err, p);
  }
  const out: Xattrs = [];
  for (const name of names.filter(isCopyable)) {
    try {
      out.push([name, await xattr.getAttribute(p, name)]);
    } catch (err) {
      if (errnoOf(err) === 'ENODATA') continue; // removed between list and get
      throw fsError(`read extended attribute ${name} of`, err, p);
    }
  }
  return out;
}

/** Sets every attribute; a copy that silently lost a capability or an ACL would not be faithful. */
export async function writeXattrs(p: HostPath, attrs: Xattrs): Promise<void> {
  for (const [name, value] of attrs) {
    try {
      await xattr.setAttribute(p, name, value);
    } catch (err) {
      throw fsError(`set extended attribute ${name} on`, err, p);
    }
  }
}

/** Removes attribute `name` of `p` if it is there (idempotent: undo and recovery may run it twice). */
export async function removeXattrIfPresent(p: HostPath, name: string): Promise<void> {
  try {
    await xattr.removeAttribute(p, name);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENODATA' || errno === 'ENOENT') return;
    throw fsError(`remove extended attribute ${name} of`, err, p);
  }
}

/** Sets attribute `name` of `p` to `value` unless it already has one (undo of a removal: what is there wins). */
export async function restoreXattr(p: HostPath, name: string, value: Buffer): Promise<void> {
  try {
    await xattr.getAttribute(p, name);
    return;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT') return;
    if (errno !== 'ENODATA') throw fsError(`read extended attribute ${name} of`, err, p);
  }
  try {
    await xattr.setAttribute(p, name, value);
  } catch (err) {
    throw fsError(`set extended attribute ${name} on`, err, p);
  }
}
