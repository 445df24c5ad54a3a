import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { dpkgArgv, overmergeArgv, RUN_ENV } from './lib/dpkg';
import { alternate, mustRun, QUICK, reps, rssRow, timeRow, withTempDir } from './lib/measure';
import { upgradePair } from './lib/packages';
import type { BenchResult } from './main';

/**
 * Upgrading a package of 2,000 files in which 750 change, 750 vanish with their folder, which becomes a
 * file, 300 move to a new folder and 200 stay (bench/lib/packages.ts, upgradePair): `overmerge install`
 * of version 2 against durable `dpkg --install`, each over version 1 installed (untimed) into a fresh root
 * by the same tool. Alternated, 10 repetitions, medians.
 */
const REPS = reps(10, 3);
const GOAL = { ratio: 0.5 };

export async function run(): Promise<BenchResult[]> {
  const why = await cannotRunDpkg();
  if (why) return [{ name: 'upgrade', oursMs: 0, note: `skipped: dpkg oracle unavailable: ${why}` }];
  return withTempDir('upgrade', async (dir) => {
    const pair = await upgradePair(dir, 'upg', QUICK ? 0.25 : 1);
    const roots = { om: path.join(dir, 'om'), dp: path.join(dir, 'dp') };
    const s = await alternate(
      REPS,
      {
        om: () => mustRun('overmerge install (upgrade)', overmergeArgv(roots.om, ['install', pair.v2]), { env: RUN_ENV }),
        dp: () => mustRun('dpkg --install (upgrade)', dpkgArgv(roots.dp, ['--install', pair.v2]), { env: RUN_ENV }),
      },
      {
        before: async () => {
          for (const r of Object.values(roots)) {
            await fsp.rm(r, { recursive: true, force: true });
            await fsp.mkdir(r);
          }
          await prepareDpkgAdmin(roots.dp);
          await mustRun('overmerge install (version 1)', overmergeArgv(roots.om, ['install', pair.v1]), { env: RUN_ENV });
          await mustRun('dpkg --install (version 1)', dpkgArgv(roots.dp, ['--install', pair.v1]), { env: RUN_ENV });
        },
      },
    );
    const what = `${pair.shape}; median of ${REPS}`;
    const dp = { name: 'dpkg --install', samples: s.dp };
    return [
      timeRow(`upgrade: ${pair.files.toLocaleString('en')}-file package to its next version`, s.om, dp, GOAL, what),
      rssRow('upgrade: peak RSS', s.om, dp, undefined, what),
    ];
  });
}
