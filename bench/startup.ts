import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { BIN } from '../test/helpers/run-cli';
import { dpkgArgv, overmergeArgv } from './lib/dpkg';
import { alternate, medianMs, mustRun, reps, timed, timeRow, withTempDir, type Sample } from './lib/measure';
import { oneFilePackage } from './lib/packages';
import type { BenchResult } from './main';

/**
 * Start-up latency: `overmerge --version`, `overmerge --help` and `overmerge list` on a root of three
 * packages, against a bare `node -e 0` (the floor for any Node program), `dpkg --version` and
 * `dpkg-query -W` on a dpkg root of the same three packages. Each is spawned and waited for, in turn,
 * 20 times, interleaved; medians. The goal (issue 14) is 100 ms for --version and list.
 */
const REPS = reps(20, 5);
const GOAL = { atMost: 100 };

export async function run(): Promise<BenchResult[]> {
  const dpkgWhy = await cannotRunDpkg();
  return withTempDir('startup', async (dir) => {
    const roots = { om: path.join(dir, 'om'), dp: path.join(dir, 'dp') };
    await fsp.mkdir(roots.om);
    await fsp.mkdir(roots.dp);
    const debs = [];
    for (const name of ['alpha', 'beta', 'gamma']) debs.push(await oneFilePackage(dir, name));
    await mustRun('overmerge install', overmergeArgv(roots.om, ['install', ...debs]));
    if (!dpkgWhy) {
      await prepareDpkgAdmin(roots.dp);
      await mustRun('dpkg --install', dpkgArgv(roots.dp, ['--install', ...debs]));
    }
    const quick = (argv: string[]) => (): Promise<Sample> => timed(argv);
    // The bin run as a program, as people run it (its first line then starts Node without
    // NODE_EXTRA_CA_CERTS, see bin/overmerge); `node -e 0` with the environment as given, and without it.
    const bare: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
    delete bare.NODE_EXTRA_CA_CERTS;
    const runners: Record<string, () => Promise<Sample>> = {
      node: quick([process.execPath, '-e', '0']),
      nodeBare: () => timed([process.execPath, '-e', '0'], { env: bare }),
      version: quick([BIN, '--version']),
      help: quick([BIN, '--help']),
      list: quick([BIN, '--root', roots.om, 'list']),
    };
    if (!dpkgWhy) {
      runners.dpkgVersion = quick(['dpkg', '--version']);
      runners.dpkgQuery = quick(['dpkg-query', `--admindir=${path.join(roots.dp, 'var/lib/dpkg')}`, '-W']);
    }
    // One untimed round first: the page cache then holds node, the modules and the databases for all.
    for (const r of Object.values(runners)) await r();
    const s = await alternate(REPS, runners, { sync: false });
    for (const [k, samples] of Object.entries(s)) {
      const bad = samples.find((x) => x.status !== 0);
      if (bad) throw new Error(`${k} failed: ${bad.output.trim().split('\n')[0]}`);
    }
    const node = { name: 'node -e 0', samples: s.node };
    const dpkgNote = (k: string, what: string): string => (s[k] ? `; ${what} ${medianMs(s[k]).toFixed(1)} ms` : '');
    const floor = process.env.NODE_EXTRA_CA_CERTS === undefined ? '' : `; node -e 0 without NODE_EXTRA_CA_CERTS ${medianMs(s.nodeBare).toFixed(1)} ms`;
    const what = `median of ${REPS}, spawn to exit${floor}`;
    return [
      timeRow('startup: overmerge --version', s.version, node, GOAL, `${what}${dpkgNote('dpkgVersion', 'dpkg --version')}`),
      timeRow('startup: overmerge --help', s.help, node, undefined, what),
      timeRow('startup: overmerge list (3 packages)', s.list, node, GOAL, `${what}${dpkgNote('dpkgQuery', 'dpkg-query -W on the same packages')}`),
    ];
  });
}
