import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { hostileCases } from '../fixtures/hostile/cases';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { dpkgArgv, overmergeArgv, RUN_ENV } from './lib/dpkg';
import { alternate, mustRun, QUICK, reps, rssRow, settle, size, timed, timeRow, withTempDir } from './lib/measure';
import { emptyFilesPackage } from './lib/packages';
import type { BenchResult } from './main';

/**
 * Archives of many tiny members, where memory per member is what counts: a package as big as Debian's
 * largest (116,010 files, papirus-icon-theme) installed by overmerge and by durable dpkg into fresh
 * roots, alternated, 3 repetitions, then installed again over itself (a reinstall: the upgrade path), alternated
 * the same; then (not in a quick run) a package at the default member limit installed and installed again
 * (ours only, its peak RSS), and the hostile corpus's million-member archive,
 * which overmerge refuses at its default member limit (250,000) while dpkg-deb merely lists it, once each.
 * Time and peak RSS from GNU time.
 */
const REPS = reps(3, 2);
const MEMBERS = Number(process.env.OVERMERGE_BENCH_MEMBERS ?? size(116_010, 20_000));
const TOO_MANY = 1_000_000;
/** Members of the largest package one transaction takes by default (250,000 with its four folders). */
const AT_THE_LIMIT = 249_990;

export async function run(): Promise<BenchResult[]> {
  const name = 'many-members';
  const why = await cannotRunDpkg();
  if (why) return [{ name, oursMs: 0, note: `skipped: ${why}` }];
  return withTempDir('many', async (dir) => {
    const many = await emptyFilesPackage(dir, 'many', MEMBERS);
    const roots = { om: path.join(dir, 'om'), dp: path.join(dir, 'dp') };
    const s = await alternate(
      REPS,
      {
        om: () => mustRun('overmerge install', overmergeArgv(roots.om, ['install', many]), { env: RUN_ENV }),
        dp: () => mustRun('dpkg --install', dpkgArgv(roots.dp, ['--install', many]), { env: RUN_ENV }),
      },
      {
        before: async () => {
          for (const r of Object.values(roots)) {
            await fsp.rm(r, { recursive: true, force: true });
            await fsp.mkdir(r);
          }
          await prepareDpkgAdmin(roots.dp);
        },
      },
    );
    const members = `${MEMBERS.toLocaleString('en')} empty files`;
    const what = `${members} in one folder, fresh root; median of ${REPS}`;
    const dp = { name: 'dpkg --install', samples: s.dp };
    const out = [
      timeRow(`${name}: install of ${members}`, s.om, dp, { ratio: 1.0 }, what),
      rssRow(`${name}: peak RSS installing ${members}`, s.om, dp, { atMost: 100 }, what),
    ];
    // The same package again over itself, in the roots the last repetition left: the upgrade path (the
    // installed rows, the root's state of every path, the plan's rows), which the fresh install never takes.
    const again = await alternate(REPS, {
      om: () => mustRun('overmerge install (again)', overmergeArgv(roots.om, ['install', many]), { env: RUN_ENV }),
      dp: () => mustRun('dpkg --install (again)', dpkgArgv(roots.dp, ['--install', many]), { env: RUN_ENV }),
    });
    const dpAgain = { name: 'dpkg --install', samples: again.dp };
    const whatAgain = `${members} installed again over themselves; median of ${REPS}`;
    out.push(
      timeRow(`${name}: reinstall of ${members}`, again.om, dpAgain, undefined, whatAgain),
      rssRow(`${name}: peak RSS reinstalling ${members}`, again.om, dpAgain, { atMost: 100 }, whatAgain),
    );
    if (!QUICK) out.push(...(await atTheLimit(dir)), ...(await refusal(dir)));
    return out;
  });
}

/**
 * An upgrade as large as one transaction may be: a package of as many members as the default member limit
 * allows (250,000 with its folders), installed, then installed again over itself. Peak RSS is the row (the
 * upgrade path's memory must not grow with the member count); dpkg's reinstall of it would take minutes
 * and is not run. Once.
 */
async function atTheLimit(dir: string): Promise<BenchResult[]> {
  const name = 'many-members';
  const huge = await emptyFilesPackage(dir, 'huge', AT_THE_LIMIT);
  const root = path.join(dir, 'limit');
  await fsp.mkdir(root);
  await mustRun('overmerge install', overmergeArgv(root, ['install', huge]), { env: RUN_ENV });
  await settle();
  const again = await mustRun('overmerge install (again)', overmergeArgv(root, ['install', huge]), { env: RUN_ENV });
  await fsp.rm(root, { recursive: true, force: true });
  const members = `${AT_THE_LIMIT.toLocaleString('en')} empty files`;
  return [rssRow(`${name}: peak RSS reinstalling ${members} (the member limit)`, [again], undefined, { atMost: 100 }, `one run, after one install; ${Math.round(again.ms / 1000)} s`)];
}

/** The million-member archive: refused by overmerge at the member limit, listed by dpkg-deb. Once each. */
async function refusal(dir: string): Promise<BenchResult[]> {
  const name = 'many-members';
  const tooMany = path.join(dir, 'too-many.deb');
  await fsp.writeFile(tooMany, hostileCases({ tooManyMembers: TOO_MANY }).find((c) => c.id === 'resource-million-members')!.deb);
  const root = path.join(dir, 'refused');
  await fsp.mkdir(root);
  await settle();
  const refused = await timed(overmergeArgv(root, ['install', tooMany]), { env: RUN_ENV });
  if (refused.status !== 1 || !/more members than the \d+ /.test(refused.output)) {
    throw new Error(`overmerge did not refuse the million-member archive: ${refused.output.trim().split('\n')[0]}`);
  }
  await settle();
  const listed = await mustRun('dpkg-deb -c', ['dpkg-deb', '-c', tooMany], { env: RUN_ENV });
  const dpkgDeb = { name: 'dpkg-deb -c', samples: [listed] };
  const count = TOO_MANY.toLocaleString('en');
  return [
    timeRow(`${name}: ${count} members refused at the member limit vs listing them`, [refused], dpkgDeb, undefined, 'one run each; overmerge stages 250,000 members, refuses, removes them again'),
    rssRow(`${name}: peak RSS refusing ${count} members`, [refused], dpkgDeb, undefined, 'bounded by the member limit, not by the archive'),
  ];
}
