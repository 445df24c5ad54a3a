import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostileCases } from '../fixtures/hostile/cases';
import { cannotRunDpkg, prepareDpkgAdmin } from '../test/helpers/dpkg-unpack';
import { BIN } from '../test/helpers/run-cli';
import type { BenchResult } from './main';

/**
 * Archives of many tiny members, where memory per member is what counts: a package as big as Debian's
 * largest (116,010 files, papirus-icon-theme) installed by overmerge and unpacked by durable dpkg, and the
 * hostile corpus's million-member archive, which overmerge refuses at its default member limit (250,000)
 * while dpkg-deb merely lists it. Time and peak RSS of each, from GNU time, in the same run.
 */
const MEMBERS = Number(process.env.OVERMERGE_BENCH_MEMBERS ?? 116_010);
const TOO_MANY = 1_000_000;
const TIME = '/usr/bin/time';

interface Run {
  ms: number;
  rssMiB: number;
  status: number;
  output: string;
}

export async function run(): Promise<BenchResult[]> {
  const name = 'many-members';
  const why = (await cannotRunDpkg()) ?? (existsSync(TIME) ? undefined : `no ${TIME} to read peak memory from`);
  if (why) return [{ name, oursMs: 0, note: `skipped: ${why}` }];
  const cases = hostileCases({ manyMembers: MEMBERS, tooManyMembers: TOO_MANY });
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-bench-many-'));
  try {
    const many = path.join(base, 'many.deb');
    const tooMany = path.join(base, 'too-many.deb');
    await fsp.writeFile(many, cases.find((c) => c.id === 'resource-200k-members')!.deb);
    await fsp.writeFile(tooMany, cases.find((c) => c.id === 'resource-million-members')!.deb);
    const roots = { om: path.join(base, 'om'), dp: path.join(base, 'dp'), refused: path.join(base, 'refused') };
    for (const r of Object.values(roots)) await fsp.mkdir(r);
    await prepareDpkgAdmin(roots.dp);

    await settle();
    const om = await timed([process.execPath, BIN, '--root', roots.om, '--quiet', 'install', many]);
    if (om.status !== 0) throw new Error(`overmerge install failed: ${om.output.trim().split('\n')[0]}`);
    await settle();
    const dp = await timed(['dpkg', `--root=${roots.dp}`, '--force-depends', '--no-triggers', '--unpack', many]);
    if (dp.status !== 0) throw new Error(`dpkg --unpack failed: ${dp.output.trim().split('\n').slice(-3).join(' ')}`);
    await settle();
    const refused = await timed([process.execPath, BIN, '--root', roots.refused, '--quiet', 'install', tooMany]);
    if (refused.status !== 1 || !/more members than the \d+ /.test(refused.output)) {
      throw new Error(`overmerge did not refuse the million-member archive: ${refused.output.trim().split('\n')[0]}`);
    }
    const listed = await timed(['dpkg-deb', '-c', tooMany]);

    const members = `${MEMBERS.toLocaleString('en')} empty files`;
    return [
      {
        name: `${name}: install of ${members} vs durable dpkg --unpack`,
        oursMs: om.ms,
        baseline: { name: 'dpkg --unpack', ms: dp.ms },
        note: `one run each, fresh root`,
      },
      {
        name: `${name}: peak RSS installing ${members}`,
        oursMs: om.rssMiB,
        baseline: { name: 'dpkg --unpack', ms: dp.rssMiB },
        unit: 'MiB',
      },
      {
        name: `${name}: ${TOO_MANY.toLocaleString('en')} members refused at the member limit vs listing them`,
        oursMs: refused.ms,
        baseline: { name: 'dpkg-deb -c', ms: listed.ms },
        note: 'overmerge stages 250,000 members, refuses, removes them again',
      },
      {
        name: `${name}: peak RSS refusing ${TOO_MANY.toLocaleString('en')} members`,
        oursMs: refused.rssMiB,
        baseline: { name: 'dpkg-deb -c', ms: listed.rssMiB },
        unit: 'MiB',
        note: 'bounded by the member limit, not by the archive',
      },
    ];
  } finally {
    await fsp.rm(base, { recursive: true, force: true });
  }
}

/** Writes back dirty pages left by whatever ran before, outside any timed run. */
async function settle(): Promise<void> {
  await timed(['sync']);
}

function timed(argv: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME, ['-v', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const output = Buffer.concat(err).toString('utf8');
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(output);
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, rssMiB: m ? Number(m[1]) / 1024 : 0, status: code ?? 1, output });
    });
  });
}
