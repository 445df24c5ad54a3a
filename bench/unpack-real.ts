import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { cannotRunDpkg, prepareDpkgAdmin, scriptInterpreters } from '../test/helpers/dpkg-unpack';
import { makeMergedUsr } from '../test/helpers/merged-usr';
import { realDebs } from '../test/helpers/real-debs';
import { dpkgArgv, overmergeArgv, RUN_ENV } from './lib/dpkg';
import { alternate, mustRun, QUICK, reps, rssRow, settle, timeRow, withTempDir, type Sample } from './lib/measure';
import type { BenchResult } from './main';

const execFileP = promisify(execFile);

/**
 * Unpacking Debian's real Priority: required set (~110 archives) into a fresh merged-/usr root:
 * `overmerge unpack --no-scripts` (one transaction) against durable `dpkg --unpack` (it fsyncs every file;
 * its maintainer scripts neutralised as in the conformance test) and against plain extraction
 * (`dpkg-deb --fsys-tarfile X | tar -x`, serial, no fsync at all), rotated in each repetition; then (not in
 * a quick run) the same set unpacked again over the installed root by overmerge and by dpkg, counting the
 * files each rewrote. 3 repetitions, medians; peak RSS from GNU time. Each repetition unpacks into roots
 * of its own, all removed once every run is timed (bootstrap.ts says why: on an ext4 without a journal a
 * tree removed just before a run slows every inode that run makes).
 */
const REPS = reps(3, 1);
const ADMIN = /^\.\/var\/lib\/(overmerge|dpkg)(\/|$)/;

export async function run(): Promise<BenchResult[]> {
  const name = 'unpack-real';
  const why = await cannotRunDpkg();
  if (why) return [{ name, oursMs: 0, note: `skipped: dpkg oracle unavailable: ${why}` }];
  const set = await realDebs('required');
  if ('skip' in set) return [{ name, oursMs: 0, note: `skipped: ${set.skip}` }];
  const debs = set.files;
  const interpreters = await scriptInterpreters(debs);
  await execFileP('sh', ['-c', 'cat "$@" > /dev/null', 'sh', ...debs]); // everyone starts with the archives cached

  return withTempDir('real', async (base) => {
    let files = 0;
    let bytes = 0;
    const roots = (rep: number) => ({ om: path.join(base, `om-${rep}`), dp: path.join(base, `dp-${rep}`), tar: path.join(base, `tar-${rep}`) });
    const ours = (rep: number): Promise<Sample> =>
      mustRun('overmerge unpack', overmergeArgv(roots(rep).om, ['unpack', '--no-scripts', '--force-depends', ...debs]), { env: RUN_ENV });
    const dpkg = (rep: number): Promise<Sample> =>
      mustRun('dpkg --unpack', dpkgArgv(roots(rep).dp, ['--force-depends', '--no-triggers', '--unpack', ...debs], interpreters), { env: RUN_ENV });
    const again: Record<'om' | 'dp', Sample[]> = { om: [], dp: [] };
    let rewritten = { om: 0, dp: 0 };
    const s = await alternate(
      REPS,
      { om: ours, dp: dpkg, tar: (rep) => tarExtract(roots(rep).tar, debs) },
      {
        before: async (rep) => {
          for (const r of Object.values(roots(rep))) {
            await fsp.mkdir(r, { mode: 0o755 });
            await makeMergedUsr(r);
          }
          await prepareDpkgAdmin(roots(rep).dp);
        },
        after: async (rep) => {
          if (rep === 0) ({ files, bytes } = await treeSize(roots(rep).tar));
          if (QUICK) return;
          // The same set again over the installed roots: how many files does each rewrite?
          for (const k of ['om', 'dp'] as const) {
            const before = await inodes(roots(rep)[k]);
            await settle();
            again[k].push(await (k === 'om' ? ours(rep) : dpkg(rep)));
            rewritten = { ...rewritten, [k]: changed(before, await inodes(roots(rep)[k])) };
          }
        },
      },
    );

    const what = `${debs.length} archives, ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB, fresh merged-/usr root; median of ${REPS}`;
    const dp = { name: 'dpkg --unpack', samples: s.dp };
    const out = [
      timeRow(`${name}: overmerge unpack vs durable dpkg --unpack`, s.om, dp, { ratio: 0.5 }, `${what}; dpkg fsyncs each file, overmerge syncs once per batch`),
      timeRow(`${name}: overmerge unpack vs tar extraction`, s.om, { name: 'dpkg-deb --fsys-tarfile | tar -x', samples: s.tar }, undefined, `${what}; tar neither syncs nor records anything`),
      rssRow(`${name}: peak RSS unpacking the set`, s.om, dp, { atMost: 100 }, what),
    ];
    if (!QUICK) {
      out.push(
        timeRow(`${name}: reinstall of the same set over the installed root`, again.om, { name: 'dpkg --unpack again', samples: again.dp }, undefined,
          `non-directories rewritten or touched (inode or ctime changed, last repetition): overmerge ${rewritten.om}, dpkg ${rewritten.dp}, of ${files}`),
      );
    }
    return out;
  });
}

function tarExtract(root: string, debs: string[]): Promise<Sample> {
  // --keep-directory-symlink: follow the root's bin → usr/bin as dpkg and overmerge do.
  const script = 'dir=$1; shift; for f; do dpkg-deb --fsys-tarfile "$f" | tar -x --keep-directory-symlink -C "$dir" || exit 1; done';
  return mustRun('tar extraction', ['sh', '-c', script, 'sh', root, ...debs], { env: RUN_ENV });
}

/** Non-directory paths (admin folders left out) → "inode ctime", to tell which files a run replaced or touched. */
async function inodes(root: string): Promise<Map<string, string>> {
  const { stdout } = await execFileP('find', ['.', '!', '-type', 'd', '-printf', '%p\\t%i %C@\\n'], { cwd: root, maxBuffer: 1 << 26 });
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const p = line.slice(0, tab).replace(/\.dpkg-new$/, '');
    if (!ADMIN.test(p)) out.set(p, line.slice(tab + 1));
  }
  return out;
}

function changed(before: Map<string, string>, after: Map<string, string>): number {
  let n = 0;
  for (const [p, v] of after) if (before.get(p) !== v) n++;
  return n;
}

async function treeSize(root: string): Promise<{ files: number; bytes: number }> {
  const { stdout } = await execFileP('find', ['.', '!', '-type', 'd', '-printf', '%s\\n'], { cwd: root, maxBuffer: 1 << 26 });
  const sizes = stdout.split('\n').filter(Boolean).map(Number);
  return { files: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0) };
}
