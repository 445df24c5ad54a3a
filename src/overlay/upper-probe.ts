import { promises as fsp, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { errnoOf, fsError } from '../errors';
import { hostPath, type Root, type RootPath } from '../fs/rootpath';
import { movedTrees, pathsToAsk, type TreeUsage, type UpperStep } from './upper-space';
import type { RedirectDir } from './options';
import type { OverlayView, Where } from './where';

/**
 * The facts estimateUpperSpace reads, gathered before a transaction: where each path its steps touch
 * lives (and their ancestors), and what copying each directory it moves aside by the copy fallback
 * would write. Read-only.
 */
export async function upperSpaceFacts(
  view: Pick<OverlayView, 'where'>,
  root: Root,
  steps: Iterable<UpperStep>,
  opts: { redirectDir: RedirectDir; blockSize: number; directoryBytes?: number },
): Promise<{ where: Map<RootPath, Where>; trees: Map<RootPath, TreeUsage> }> {
  const where = new Map<RootPath, Where>();
  for (const p of pathsToAsk(steps)) where.set(p, await view.where(p));
  const trees = new Map<RootPath, TreeUsage>();
  for (const p of movedTrees(steps, where, opts)) trees.set(p, await treeUsage(hostPath(root, p), opts.blockSize, opts.directoryBytes ?? opts.blockSize));
  return { where, trees };
}

/**
 * What a copy of the tree at `host` writes, read through the merged view (the copy fallback copies what
 * the merged view shows): each file's size rounded up to whole blocks, each directory `directoryBytes`,
 * each symlink whose target does not fit in an ext4 inode one block.
 */
export async function treeUsage(host: string, blockSize: number, directoryBytes: number): Promise<TreeUsage> {
  const round = (n: number): number => Math.ceil(n / blockSize) * blockSize;
  let bytes = 0;
  let entries = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await fsp.lstat(p).catch((err: unknown) => {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw fsError('measure', err, p);
    });
    if (!st) return;
    entries++;
    if (st.isFile()) bytes += round(st.size);
    else if (st.isSymbolicLink()) bytes += st.size >= 60 ? blockSize : 0;
    else if (st.isDirectory()) {
      bytes += directoryBytes;
      let names: Dirent[];
      try {
        names = await fsp.readdir(p, { withFileTypes: true });
      } catch (err) {
        throw fsError('read folder', err, p);
      }
      for (const d of names) await walk(path.join(p, d.name));
    }
  };
  await walk(host);
  return { bytes, entries };
}
