import type * as FsXattr from 'fs-xattr';
import { errnoOf, fsError } from '../errors';
import type { HostPath } from './host-path';

let addon: typeof FsXattr | undefined;

/**
 * fs-xattr, a native addon, loaded on first use rather than with this module: most commands, and most
 * transactions, never read or write an extended attribute, and the CLI's start-up pays for every load.
 */
export function fsXattr(): typeof FsXattr {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (addon ??= require('fs-xattr') as typeof FsXattr);
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
 */
export async function readXattrs(p: string, isSymlink: boolean): Promise<Xattrs> {
  if (isSymlink) return [];
  let names: string[];
  try {
    names = await fsXattr().listAttributes(p);
  } catch (err) {
    if (UNSUPPORTED.has(errnoOf(err) ?? '')) return [];
    throw fsError('list extended attributes of', err, p);
  }
  const out: Xattrs = [];
  for (const name of names.filter(isCopyable)) {
    try {
      out.push([name, await fsXattr().getAttribute(p, name)]);
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
      await fsXattr().setAttribute(p, name, value);
    } catch (err) {
      throw fsError(`set extended attribute ${name} on`, err, p);
    }
  }
}
