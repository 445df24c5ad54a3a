import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { copyTree } from '../src/fs/copytree';
import { moveAside, planMoveAside, discardBackup } from '../src/fs/move-aside';
import { cannotMount, withOverlay } from '../test/helpers/mounts';
import type { BenchResult } from './main';
import { hostPathOf } from '../src/fs/host-path';

const execFileP = promisify(execFile);

const DIRS = 50;
const FILES_PER_DIR = 100;
const LARGE = [4 << 20, 4 << 20, 8 << 20];

/** 5,000 small files (a few MB) in 50 directories, some symlinks and hard links, and a few large files. */
async function buildTree(root: string): Promise<string> {
  await fsp.mkdir(root);
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(root, `dir-${d}`);
    await fsp.mkdir(dir);
    await Promise.all(
      Array.from({ length: FILES_PER_DIR }, (_, f) => fsp.writeFile(path.join(dir, `file-${f}`), Buffer.alloc(600 + ((f * 37) % 1400), f))),
    );
    await fsp.symlink('file-0', path.join(dir, 'link'));
    await fsp.link(path.join(dir, 'file-1'), path.join(dir, 'hard'));
  }
  for (const [i, size] of LARGE.entries()) await fsp.writeFile(path.join(root, `large-${i}`), Buffer.alloc(size, i + 1));
  const { stdout } = await execFileP('du', ['-sh', '--apparent-size', root]);
  return `${DIRS * FILES_PER_DIR} small files + ${LARGE.length} large, ${stdout.split('\t')[0]}`;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The copy fallback through a real overlay (lower-layer directory, so rename gives EXDEV), against
 * `cp -a` of the same tree through the same overlay, in the same run. cp -a neither syncs nor removes
 * the original; moveAside does both, so a second line compares the bare copy.
 */
export async function run(): Promise<BenchResult[]> {
  const why = cannotMount();
  if (why) return [{ name: 'copy-fallback', oursMs: 0, note: `skipped: ${why}` }];
  let note = '';
  return withOverlay(
    async ({ merged }) => {
      const tree = path.join(merged, 'tree');
      // Warm the page cache for everyone: the first reader would otherwise pay for it alone.
      await execFileP('cp', ['-a', tree, path.join(merged, 'warm')]);
      await fsp.rm(path.join(merged, 'warm'), { recursive: true });
      const cpMs = await time(() => execFileP('cp', ['-a', tree, path.join(merged, 'by-cp')]));
      await fsp.rm(path.join(merged, 'by-cp'), { recursive: true });
      const copyMs = await time(() => copyTree(hostPathOf(tree), hostPathOf(path.join(merged, 'by-copytree'))));
      await fsp.rm(path.join(merged, 'by-copytree'), { recursive: true });
      const handle = planMoveAside(hostPathOf(tree));
      const asideMs = await time(async () => {
        const moved = await moveAside(handle);
        if (moved.method !== 'copy') throw new Error(`expected the copy fallback, got ${moved.method}`);
      });
      await discardBackup(handle);
      return [
        { name: 'copy-fallback: moveAside of an overlay lower dir', oursMs: asideMs, baseline: { name: 'cp -a', ms: cpMs }, note: `${note}; copy + sync + remove` },
        { name: 'copy-fallback: copyTree alone', oursMs: copyMs, baseline: { name: 'cp -a', ms: cpMs }, note },
      ];
    },
    {
      buildLower: async (lower) => {
        note = await buildTree(path.join(lower, 'tree'));
      },
    },
  );
}
