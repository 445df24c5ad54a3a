import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { dpkgArgv, overmergeArgv, RUN_ENV } from './lib/dpkg';
import { alternate, mustRun, reps, rssRow, size, timeRow, withTempDir, type Sample } from './lib/measure';
import { emptyFilesPackage, oneFilePackage } from './lib/packages';
import type { BenchResult } from './main';

/**
 * Installing, then removing, a package of one file: what every small `apt install` costs, start-up and
 * database included. Twice: in an empty root (a fresh folder each repetition: for overmerge an empty one,
 * it creates its database; for dpkg one with the empty admin folder it needs), and in a root where
 * 200,000 paths are already registered (one package of that many empty files, installed once by each
 * tool, untimed), where the cost must not grow with what is installed. `overmerge install` / `remove`
 * against durable `dpkg --install` / `--remove`, alternated, 20 repetitions, medians.
 */
const REPS = reps(20, 5);
const REGISTERED = size(200_000, 20_000);
const GOAL = { ratio: 1.0 };

export async function run(): Promise<BenchResult[]> {
  const why = await cannotRunDpkg();
  if (why) return [{ name: 'small-install', oursMs: 0, note: `skipped: dpkg oracle unavailable: ${why}` }];
  return withTempDir('small', async (dir) => {
    const deb = await oneFilePackage(dir, 'tiny');
    const ours = (root: string, args: string[]) => mustRun(`overmerge ${args[0]}`, overmergeArgv(root, args), { env: RUN_ENV });
    const dpkg = (root: string, args: string[]) => mustRun(`dpkg ${args[0]}`, dpkgArgv(root, args), { env: RUN_ENV });
    const pair = (om: string, dp: string): Record<'om' | 'dp', () => Promise<Sample[]>> => ({
      om: async () => [await ours(om, ['install', deb]), await ours(om, ['remove', 'tiny'])],
      dp: async () => [await dpkg(dp, ['--install', deb]), await dpkg(dp, ['--remove', 'tiny'])],
    });

    // Empty roots, fresh each repetition.
    const empty = { om: path.join(dir, 'empty-om'), dp: path.join(dir, 'empty-dp') };
    const fresh = async (): Promise<void> => {
      for (const r of Object.values(empty)) {
        await fsp.rm(r, { recursive: true, force: true });
        await fsp.mkdir(r);
      }
      await prepareDpkgAdmin(empty.dp);
    };
    const e = await measurePairs(REPS, pair(empty.om, empty.dp), fresh);

    // Roots with REGISTERED paths, built once; install + remove leaves each as it was.
    const big = { om: path.join(dir, 'big-om'), dp: path.join(dir, 'big-dp') };
    const many = await emptyFilesPackage(dir, 'registered', REGISTERED);
    await fsp.mkdir(big.om);
    await fsp.mkdir(big.dp);
    await prepareDpkgAdmin(big.dp);
    await ours(big.om, ['install', many]);
    // Unsafe I/O only to build the root faster; the timed runs below are durable.
    await mustRun('dpkg --install (building the root)', ['dpkg', `--root=${big.dp}`, '--force-script-chrootless', '--force-unsafe-io', '--install', many], { env: RUN_ENV });
    await fsp.rm(many);
    const b = await measurePairs(REPS, pair(big.om, big.dp));

    const what = (where: string): string => `one-file package, ${where}; median of ${REPS}, each a separate process`;
    const emptyWhat = what('empty root');
    const bigWhat = what(`root with ${REGISTERED.toLocaleString('en')} registered paths`);
    return [
      timeRow('small-install: install into an empty root', e.om.install, { name: 'dpkg --install', samples: e.dp.install }, GOAL, emptyWhat),
      timeRow('small-install: remove from an empty root', e.om.remove, { name: 'dpkg --remove', samples: e.dp.remove }, GOAL, emptyWhat),
      timeRow(`small-install: install into a root of ${REGISTERED.toLocaleString('en')} paths`, b.om.install, { name: 'dpkg --install', samples: b.dp.install }, GOAL, bigWhat),
      timeRow(`small-install: remove from a root of ${REGISTERED.toLocaleString('en')} paths`, b.om.remove, { name: 'dpkg --remove', samples: b.dp.remove }, GOAL, bigWhat),
      rssRow(`small-install: peak RSS installing into a root of ${REGISTERED.toLocaleString('en')} paths`, b.om.install, { name: 'dpkg --install', samples: b.dp.install }, undefined, bigWhat),
    ];
  });
}

type Split = { install: Sample[]; remove: Sample[] };

/** Alternates the install + remove pairs, `before` ahead of each repetition; splits the samples. */
async function measurePairs(n: number, pair: Record<'om' | 'dp', () => Promise<Sample[]>>, before?: () => Promise<void>): Promise<Record<'om' | 'dp', Split>> {
  const runs: Record<'om' | 'dp', Split> = { om: { install: [], remove: [] }, dp: { install: [], remove: [] } };
  await alternate(
    n,
    {
      om: async () => record(runs.om, await pair.om()),
      dp: async () => record(runs.dp, await pair.dp()),
    },
    { before: before && (() => before()) },
  );
  return runs;
}

function record(into: Split, [install, remove]: Sample[]): Sample {
  into.install.push(install);
  into.remove.push(remove);
  return install;
}
