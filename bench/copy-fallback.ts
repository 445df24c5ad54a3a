import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { copyTree } from '../src/fs/copytree';
import { hostPathOf } from '../src/fs/host-path';
import { discardBackup, moveAside, planMoveAside, type BackupHandle } from '../src/fs/move-aside';
import { cannotMount, withOverlay } from '../test/helpers/mounts';
import { medianMs, mustRun, reps, settle, timeRow, type Sample } from './lib/measure';
import type { BenchResult } from './main';

const execFileP = promisify(execFile);

/**
 * The EXDEV fallback through a real overlay: a lower-layer directory, which overlayfs refuses to rename, is
 * copied aside. copyTree alone against `cp -a` of the same tree through the same overlay; and the whole
 * fallback (moveAside: copy, syncfs, rename, remove the original, rename) against the same done by
 * coreutils (`cp -a`, `sync -f`, `rm -rf`). Each repetition has trees of its own in the lower layer (the
 * fallback removes its original), all read once beforehand so that every run finds them cached, and
 * copies to names of its own (nothing is removed between timed runs but the originals); the copying runs
 * alternate and rotate. 10 repetitions, medians.
 */
const REPS = reps(10, 3);
const DIRS = 50;
const FILES_PER_DIR = 100;
const LARGE = [4 << 20, 4 << 20, 8 << 20];
const GOAL = { ratio: 1.1 };

/** 5,000 small files (a few MB) in 50 directories, some symlinks and hard links, and a few large files. */
async function buildTree(root: string): Promise<void> {
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
}

/** Times an in-process run like a spawned one. */
async function inProcess(fn: () => Promise<unknown>): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: 0, output: '' };
}

export async function run(): Promise<BenchResult[]> {
  const why = cannotMount();
  if (why) return [{ name: 'copy-fallback', oursMs: 0, note: `skipped: ${why}` }];
  let shape = '';
  return withOverlay(
    async ({ merged }) => {
      const tree = (rep: number, which: 'a' | 'b'): string => path.join(merged, `tree-${rep}-${which}`);
      // Everyone finds the trees cached: the first reader would otherwise pay for it alone.
      await execFileP('sh', ['-c', 'find "$1" -type f -exec cat {} + > /dev/null', 'sh', merged]);
      const backups: BackupHandle[] = [];
      const s: Record<'cp' | 'copyTree' | 'shellAside' | 'moveAside', Sample[]> = { cp: [], copyTree: [], shellAside: [], moveAside: [] };
      for (let rep = 0; rep < REPS; rep++) {
        const copies: Array<[keyof typeof s, () => Promise<Sample>]> = [
          ['cp', () => mustRun('cp -a', ['cp', '-a', tree(rep, 'a'), path.join(merged, `by-cp-${rep}`)])],
          ['copyTree', () => inProcess(() => copyTree(hostPathOf(tree(rep, 'a')), hostPathOf(path.join(merged, `by-copytree-${rep}`))))],
        ];
        const asides: Array<[keyof typeof s, () => Promise<Sample>]> = [
          ['shellAside', () => mustRun('cp -a; sync -f; rm -rf', ['sh', '-c', 'cp -a "$1" "$1.aside" && sync -f "$1.aside" && rm -rf "$1"', 'sh', tree(rep, 'b')])],
          ['moveAside', () => inProcess(async () => backups.push(await aside(tree(rep, 'a'))))],
        ];
        // Copies first (the fallback removes its original), each phase rotated by repetition.
        for (const phase of [copies, asides]) {
          for (let i = 0; i < phase.length; i++) {
            const [key, fn] = phase[(i + rep) % phase.length];
            await settle();
            s[key].push(await fn());
          }
        }
      }
      // Nothing is removed between timed runs: a removal's deferred work (a discard-mounted disk) slowed
      // whichever run came next. The copies go with the overlay.
      for (const b of backups) await discardBackup(b);
      const what = `${shape}, through an overlay (lower-layer tree, rename gives EXDEV); median of ${REPS}`;
      const cp = { name: 'cp -a', samples: s.cp };
      return [
        timeRow('copy-fallback: copyTree of an overlay lower dir', s.copyTree, cp, GOAL, `${what}; neither syncs`),
        timeRow('copy-fallback: moveAside of an overlay lower dir', s.moveAside, { name: 'cp -a; sync -f; rm -rf', samples: s.shellAside }, GOAL,
          `${what}; copy + syncfs + remove the original, both; moveAside vs cp -a alone: ${(medianMs(s.moveAside) / medianMs(s.cp)).toFixed(2)} ×`),
      ];
    },
    {
      buildLower: async (lower) => {
        for (let rep = 0; rep < REPS; rep++) for (const which of ['a', 'b']) await buildTree(path.join(lower, `tree-${rep}-${which}`));
        const { stdout } = await execFileP('du', ['-sh', '--apparent-size', path.join(lower, 'tree-0-a')]);
        shape = `${DIRS * FILES_PER_DIR} small files + ${LARGE.length} large, ${stdout.split('\t')[0]} a tree`;
      },
    },
  );
}

/** The whole fallback, as a transaction takes it; the backup is let go later, untimed. */
async function aside(original: string): Promise<BackupHandle> {
  const moved = await moveAside(planMoveAside(hostPathOf(original)));
  if (moved.method !== 'copy') throw new Error(`expected the copy fallback, got ${moved.method}`);
  return moved;
}
