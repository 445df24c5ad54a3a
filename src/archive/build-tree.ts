import { promises as fsp, type Stats } from 'node:fs';
import { OvermergeError, fsError } from '../errors';
import type { EntryType } from './tar';

/**
 * The file list of a package tree in dpkg-deb's order: depth first, each directory's names sorted
 * bytewise, the directory itself before its contents; symbolic links held back to the very end (so an
 * unpacker never follows a link into a directory that is still coming); the second and later names of
 * a hard-linked file become hard links to the first. Names are bytes, as on disk.
 */
export interface TreeEntry {
  /** The path below the tree root, no leading `./`, empty for the root itself. */
  rel: Buffer;
  /** The host path (bytes, so names that are not UTF-8 survive). */
  host: Buffer;
  type: EntryType;
  stat: Stats;
  linkTarget?: Buffer;
  /** For hard links: `rel` of the first name of the same file. */
  hardlinkTo?: Buffer;
}

export interface WalkOptions {
  /** Leaves out a top-level name (the DEBIAN folder of a package tree). */
  excludeTopLevel?: string;
}

const SLASH = Buffer.from('/');

function join(a: Buffer, b: Buffer): Buffer {
  return a.length === 0 ? b : Buffer.concat([a, SLASH, b]);
}

function typeOf(st: Stats, host: Buffer): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  throw new OvermergeError('E_FS', `${host.toString()}: cannot put a socket or unknown file type in a package`, {
    op: 'build',
    path: host.toString(),
  });
}

export async function walkTree(root: string, options: WalkOptions = {}): Promise<TreeEntry[]> {
  const rootHost = Buffer.from(root);
  const entries: TreeEntry[] = [];
  const symlinks: TreeEntry[] = [];
  const firstNames = new Map<string, Buffer>();

  const visit = async (rel: Buffer, host: Buffer): Promise<void> => {
    let st: Stats;
    try {
      st = await fsp.lstat(host);
    } catch (err) {
      throw fsError('stat', err, host.toString());
    }
    const entry: TreeEntry = { rel, host, type: typeOf(st, host), stat: st };
    if (entry.type === 'symlink') {
      try {
        entry.linkTarget = await fsp.readlink(host, { encoding: 'buffer' });
      } catch (err) {
        throw fsError('read link', err, host.toString());
      }
      symlinks.push(entry);
      return;
    }
    if (entry.type !== 'directory' && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstNames.get(key);
      if (first) {
        entry.type = 'hardlink';
        entry.hardlinkTo = first;
      } else {
        firstNames.set(key, rel);
      }
    }
    entries.push(entry);
    if (entry.type !== 'directory') return;
    let names: Buffer[];
    try {
      names = await fsp.readdir(host, { encoding: 'buffer' });
    } catch (err) {
      throw fsError('read directory', err, host.toString());
    }
    names.sort(Buffer.compare);
    for (const name of names) {
      if (rel.length === 0 && options.excludeTopLevel !== undefined && name.equals(Buffer.from(options.excludeTopLevel))) {
        continue;
      }
      await visit(join(rel, name), Buffer.concat([host, SLASH, name]));
    }
  };

  await visit(Buffer.alloc(0), rootHost);
  return entries.concat(symlinks);
}

/** The member name dpkg-deb gives an entry: `./` for the root, `./path`, and a trailing `/` on folders. */
export function memberName(entry: Pick<TreeEntry, 'rel' | 'type'>): Buffer {
  if (entry.rel.length === 0) return Buffer.from('./');
  const parts = [Buffer.from('./'), entry.rel];
  if (entry.type === 'directory') parts.push(SLASH);
  return Buffer.concat(parts);
}
