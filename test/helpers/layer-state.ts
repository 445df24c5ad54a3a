import { createHash } from 'node:crypto';
import { promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { readOwnXattrs } from '../../src/fs/xattr';

/**
 * An overlay layer folder as overlayfs reads it, for "exactly as before" assertions on layers: every
 * entry with its type, mode, owner, content, symlink target, device number, file mtime, and every
 * extended attribute (a symlink's own too) — overlayfs' own (`trusted.overlay.opaque`, `origin`, ...) included, which
 * tree.ts leaves out because the merged view hides them. Directory mtimes are left out (adding and
 * removing an entry moves them). `skip` names paths (relative, and everything beneath) to leave out.
 */
export type LayerState = Record<string, string>;

export async function layerState(dir: string, skip: readonly string[] = []): Promise<LayerState> {
  const out: LayerState = {};
  const visit = async (rel: string): Promise<void> => {
    if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) return;
    const abs = rel === '' ? dir : path.join(dir, rel);
    const st = await fsp.lstat(abs, { bigint: true });
    out[rel === '' ? '.' : rel] = await describe(abs, st);
    if (st.isDirectory()) for (const n of (await fsp.readdir(abs)).sort()) await visit(rel === '' ? n : `${rel}/${n}`);
  };
  await visit('');
  return out;
}

async function describe(abs: string, st: BigIntStats): Promise<string> {
  const parts = [typeOf(st), (st.mode & 0o7777n).toString(8), `${st.uid}:${st.gid}`];
  if (st.isFile()) parts.push(`size=${st.size}`, `sha256=${createHash('sha256').update(await fsp.readFile(abs)).digest('hex').slice(0, 16)}`);
  if (st.isSymbolicLink()) parts.push(`-> ${await fsp.readlink(abs)}`);
  if (st.isCharacterDevice() || st.isBlockDevice()) parts.push(`rdev=${st.rdev}`);
  if (!st.isDirectory()) parts.push(`mtime=${st.mtimeNs}`);
  for (const [n, v] of await readOwnXattrs(abs)) parts.push(`${n}=${v.toString('hex')}`);
  return parts.join(' ');
}

function typeOf(st: BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return st.rdev === 0n ? 'whiteout' : 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Bytes a layer's entries take (st_blocks × 512, each inode once), `skip` left out as in layerState. */
export async function layerBytes(dir: string, skip: readonly string[] = []): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const visit = async (rel: string): Promise<void> => {
    if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) return;
    const abs = rel === '' ? dir : path.join(dir, rel);
    const st = await fsp.lstat(abs, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      total += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const n of await fsp.readdir(abs)) await visit(rel === '' ? n : `${rel}/${n}`);
  };
  await visit('');
  return total;
}
