import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { dpkgArgv, overmergeArgv, RUN_ENV } from './lib/dpkg';
import { alternate, mustRun, reps, rssRow, size, timeRow, withTempDir } from './lib/measure';
import { bigFilePackage } from './lib/packages';
import type { BenchResult } from './main';

/**
 * A package whose data.tar holds one 2 GiB file (of zeros, so the .deb is a few MB of gzip): memory must
 * not follow the size of a member. `overmerge install` against durable `dpkg --install` into fresh roots,
 * alternated, 3 repetitions; peak RSS from GNU time, and the time too.
 */
const REPS = reps(3, 2);
const BYTES = size(2048, 256) * 2 ** 20;
const GOAL_RSS = { atMost: 100 };

export async function run(): Promise<BenchResult[]> {
  const why = await cannotRunDpkg();
  if (why) return [{ name: 'big-file', oursMs: 0, note: `skipped: dpkg oracle unavailable: ${why}` }];
  return withTempDir('bigfile', async (dir) => {
    const deb = await bigFilePackage(dir, 'big', BYTES);
    const debBytes = (await fsp.stat(deb)).size;
    const roots = { om: path.join(dir, 'om'), dp: path.join(dir, 'dp') };
    const fresh = async (): Promise<void> => {
      for (const r of Object.values(roots)) {
        await fsp.rm(r, { recursive: true, force: true });
        await fsp.mkdir(r);
      }
      await prepareDpkgAdmin(roots.dp);
    };
    const s = await alternate(
      REPS,
      {
        om: () => mustRun('overmerge install', overmergeArgv(roots.om, ['install', deb]), { env: RUN_ENV }),
        dp: () => mustRun('dpkg --install', dpkgArgv(roots.dp, ['--install', deb]), { env: RUN_ENV }),
      },
      { before: fresh },
    );
    const gib = `${BYTES / 2 ** 30} GiB`;
    const what = `one file of ${(BYTES / 2 ** 30).toFixed(2)} GiB in data.tar.gz (.deb ${(debBytes / 2 ** 20).toFixed(1)} MiB), fresh root; median of ${REPS}`;
    const dp = { name: 'dpkg --install', samples: s.dp };
    return [
      rssRow(`big-file: peak RSS installing a ${gib} member`, s.om, dp, GOAL_RSS, what),
      timeRow(`big-file: install of a ${gib} member`, s.om, dp, undefined, what),
    ];
  });
}
