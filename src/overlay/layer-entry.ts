import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { errnoOf, fsError } from '../errors';
import { resolveHostPath } from '../fs/host-path';
import { hostPath, type RootPath } from '../fs/rootpath';
import { fsXattr } from '../fs/xattr';
import type { LayerDir } from './layers';

/**
 * Reading one name in one layer folder, as overlayfs would read it: the entry, the overlay attributes on it,
 * its content digest. Layer folders are read directly (the merged view hides whiteouts, opaque marks and
 * which layer answered). Read-only.
 */

export type EntryKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** A layer by its role and position (lower 0 is the topmost lower layer). */
export interface LayerRef {
  role: LayerDir['role'];
  index: number;
}

/** An entry found in one layer. */
export interface LayerEntry {
  layer: LayerDir;
  /** Its path inside the layer (differs from the merged path below a redirected directory). */
  path: RootPath;
  host: string;
  st: Stats;
  kind: EntryKind;
}

export function kindOf(st: Stats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

export function refOf(layer: LayerDir): LayerRef {
  return { role: layer.role, index: layer.index };
}

/** lstat of `p` in `layer`; undefined when there is nothing there (or a non-directory on the way). */
export async function entryAt(layer: LayerDir, p: RootPath): Promise<LayerEntry | undefined> {
  const host = hostPath({ host: resolveHostPath(layer.path) }, p);
  try {
    const st = await fsp.lstat(host);
    return { layer, path: p, host, st, kind: kindOf(st) };
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
    throw fsError('read overlay layer entry', err, host);
  }
}

/**
 * One extended attribute of a layer entry, or undefined. fs-xattr follows symlinks, and overlayfs never
 * marks a symlink, so symlinks have none here.
 */
export async function attrOf(e: LayerEntry, name: string): Promise<Buffer | undefined> {
  if (e.kind === 'symlink') return undefined;
  try {
    return await fsXattr().getAttribute(e.host, name);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENODATA' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || errno === 'ENOENT') return undefined;
    throw fsError(`read extended attribute ${name} of`, err, e.host);
  }
}

/** sha256 of a regular file's content, hex. */
export async function contentDigest(host: string): Promise<string> {
  const h = createHash('sha256');
  try {
    await pipeline(createReadStream(host), h);
  } catch (err) {
    throw fsError('read', err, host);
  }
  return h.digest('hex');
}

export async function symlinkTarget(host: string): Promise<string> {
  try {
    return await fsp.readlink(host);
  } catch (err) {
    throw fsError('read symlink', err, host);
  }
}
