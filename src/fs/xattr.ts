import { closeSync, constants as C, lstatSync, openSync } from 'node:fs';
import type * as FsXattr from 'fs-xattr';
import { errnoOf, fsError } from '../errors';
import type { HostPath } from './host-path';
import { loadNative } from '../native';

let addon: typeof FsXattr | undefined;

/**
 * fs-xattr, a native addon, loaded on first use rather than with this module: most commands, and most
 * transactions, never read or write an extended attribute, and the CLI's start-up pays for every load.
 */
export function fsXattr(): typeof FsXattr {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (addon ??= loadNative('fs-xattr', () => require('fs-xattr') as typeof FsXattr));
}

/** Linux's O_PATH (Node does not export it): a descriptor that names an inode without opening it. */
const O_PATH = 0o10000000;

/**
 * fs-xattr has no l*xattr calls: it follows a final symlink. A symlink's own attributes (overlayfs records
 * `origin` on a copied-up symlink) are reached through /proc/self/fd/N of an O_PATH|O_NOFOLLOW descriptor
 * of it, the way glibc implements lchmod: the calls act on the inode the descriptor names, the symlink.
 * `fn` gets that path for any entry (a symlink or not); without /proc it gets the path itself, and a
 * symlink's attributes are then out of reach (read as none).
 */
async function atEntry<T>(p: string, fn: (at: string, viaProc: boolean) => Promise<T>): Promise<T> {
  let link = false;
  try {
    link = lstatSync(p).isSymbolicLink();
  } catch {
    // Let the call itself report what is wrong with the path.
  }
  if (!link) return fn(p, false);
  let fd: number;
  try {
    fd = openSync(p, C.O_RDONLY | O_PATH | C.O_NOFOLLOW);
  } catch (err) {
    throw fsError('open symlink', err, p);
  }
  try {
    return await fn(`/proc/self/fd/${fd}`, true);
  } finally {
    closeSync(fd);
  }
}

/** Every extended attribute of `p` itself (a symlink's own included), in name order. */
export async function readOwnXattrs(p: string): Promise<Xattrs> {
  return atEntry(p, async (at, viaProc) => {
    let names: string[];
    try {
      names = await fsXattr().listAttributes(at);
    } catch (err) {
      const errno = errnoOf(err);
      if (UNSUPPORTED.has(errno ?? '') || (viaProc && errno === 'ENOENT')) return [];
      throw fsError('list extended attributes of', err, p);
    }
    const out: Xattrs = [];
    for (const name of names.sort()) {
      try {
        out.push([name, await fsXattr().getAttribute(at, name)]);
      } catch (err) {
        if (errnoOf(err) !== 'ENODATA') throw fsError(`read extended attribute ${name} of`, err, p);
      }
    }
    return out;
  });
}

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
 * Synchronous: a copy asks this of every file, and a listxattr is a few microseconds where a round trip
 * through the thread pool (a futex wake, an eventfd write, an epoll wake-up) costs several times that.
 */
export function readXattrsSync(p: string, isSymlink: boolean): Xattrs {
  if (isSymlink) return [];
  let names: string[];
  try {
    names = fsXattr().listAttributesSync(p);
  } catch (err) {
    if (UNSUPPORTED.has(errnoOf(err) ?? '')) return [];
    throw fsError('list extended attributes of', err, p);
  }
  const out: Xattrs = [];
  for (const name of names) {
    if (!isCopyable(name)) continue;
    try {
      out.push([name, fsXattr().getAttributeSync(p, name)]);
    } catch (err) {
      if (errnoOf(err) === 'ENODATA') continue; // removed between list and get
      throw fsError(`read extended attribute ${name} of`, err, p);
    }
  }
  return out;
}

/** Sets every attribute; a copy that silently lost a capability or an ACL would not be faithful. */
export function writeXattrsSync(p: HostPath, attrs: Xattrs): void {
  for (const [name, value] of attrs) {
    try {
      fsXattr().setAttributeSync(p, name, value);
    } catch (err) {
      throw fsError(`set extended attribute ${name} on`, err, p);
    }
  }
}

/** Removes attribute `name` of `p` if it is there (idempotent: undo and recovery may run it twice). */
export async function removeXattrIfPresent(p: HostPath, name: string): Promise<void> {
  await atEntry(p, async (at) => {
    try {
      await fsXattr().removeAttribute(at, name);
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENODATA' || errno === 'ENOENT') return;
      throw fsError(`remove extended attribute ${name} of`, err, p);
    }
  });
}

/** Sets attribute `name` of `p` to `value` unless it already has one (undo of a removal: what is there wins). */
export async function restoreXattr(p: HostPath, name: string, value: Buffer): Promise<void> {
  await atEntry(p, async (at) => {
    try {
      await fsXattr().getAttribute(at, name);
      return;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOENT') return;
      if (errno !== 'ENODATA') throw fsError(`read extended attribute ${name} of`, err, p);
    }
    try {
      await fsXattr().setAttribute(at, name, value);
    } catch (err) {
      throw fsError(`set extended attribute ${name} on`, err, p);
    }
  });
}
