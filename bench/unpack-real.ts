import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { cannotRunDpkg, dpkgErrors, dpkgUnpack, prepareDpkgAdmin, scriptInterpreters } from '../test/helpers/dpkg-unpack';
import { makeMergedUsr } from '../test/helpers/merged-usr';
import { realDebs } from '../test/helpers/real-debs';
import { BIN } from '../test/helpers/run-cli';
import type { BenchResult } from './main';

const execFileP = promisify(execFile);

/**
 * Unpacking Debian's real Priority: required set (~110 archives) into a fresh merged-/usr root:
 * `overmerge unpack --no-scripts` (one transaction) against durable `dpkg --unpack` (it fsyncs every file;
 * its maintainer scripts neutralised as in the conformance test) and against plain extraction
 * (`dpkg-deb --fsys-tarfile X | tar -x`, no fsync at all), then the same set unpacked again over the
 * installed root by overmerge and by dpkg, counting the files each rewrote. Everything runs in the same
 * run, interleaved, REPS times; medians are reported. Before each timed run the page cache's dirty data
 * is synced so that no tool pays for the previous one's writes.
 */
const REPS = Number(process.env.OVERMERGE_BENCH_REPS ?? 3);
const TIME = '/usr/bin/time';
const ADMIN = /^\.\/var\/lib\/(overmerge|dpkg)(\/|$)/;

interface Run {
  ms: number;
  /** Peak resident set size, KiB (overmerge only). */
  rssKiB?: number;
}

export async function run(): Promise<BenchResult[]> {
  const name = 'unpack-real';
  const why = await cannotRunDpkg();
  if (why) return [{ name, oursMs: 0, note: `skipped: dpkg oracle unavailable: ${why}` }];
  const set = await realDebs('required');
  if ('skip' in set) return [{ name, oursMs: 0, note: `skipped: ${set.skip}` }];
  const debs = set.files;
  const interpreters = await scriptInterpreters(debs);
  await execFileP('sh', ['-c', 'cat "$@" > /dev/null', 'sh', ...debs]); // everyone starts with the archives cached

  const om: Run[] = [];
  const dp: Run[] = [];
  const tar: Run[] = [];
  const omAgain: Run[] = [];
  const dpAgain: Run[] = [];
  let rewrittenOm = 0;
  let rewrittenDp = 0;
  let files = 0;
  let bytes = 0;
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-bench-real-'));
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const roots = { om: path.join(base, `om-${rep}`), dp: path.join(base, `dp-${rep}`), tar: path.join(base, `tar-${rep}`) };
      for (const r of Object.values(roots)) {
        await fsp.mkdir(r, { mode: 0o755 });
        await makeMergedUsr(r);
      }
      await prepareDpkgAdmin(roots.dp);
      // Rotate the order so that no tool always runs first (or last) in a repetition.
      const order = [0, 1, 2].map((i) => (i + rep) % 3);
      for (const which of order) {
        await settle();
        if (which === 0) om.push(await overmergeUnpack(roots.om, debs));
        if (which === 1) dp.push(await timedDpkg(roots.dp, debs, interpreters));
        if (which === 2) tar.push(await tarExtract(roots.tar, debs));
      }
      if (rep === 0) ({ files, bytes } = await treeSize(roots.tar));

      const beforeOm = await inodes(roots.om);
      await settle();
      omAgain.push(await overmergeUnpack(roots.om, debs));
      rewrittenOm = changed(beforeOm, await inodes(roots.om));
      const beforeDp = await inodes(roots.dp);
      await settle();
      dpAgain.push(await timedDpkg(roots.dp, debs, interpreters));
      rewrittenDp = changed(beforeDp, await inodes(roots.dp));

      for (const r of Object.values(roots)) await fsp.rm(r, { recursive: true, force: true });
    }
  } finally {
    await fsp.rm(base, { recursive: true, force: true });
  }

  const what = `${debs.length} archives, ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB, fresh merged-/usr root; median of ${REPS}`;
  const rss = [...om, ...omAgain].map((r) => r.rssKiB).filter((v): v is number => v !== undefined);
  return [
    {
      name: `${name}: overmerge unpack vs durable dpkg --unpack`,
      oursMs: median(om.map((r) => r.ms)),
      baseline: { name: 'dpkg --unpack', ms: median(dp.map((r) => r.ms)) },
      note: `${what}; dpkg fsyncs each file, overmerge syncs once per batch; runs ${seconds(om)} s vs ${seconds(dp)} s`,
    },
    {
      name: `${name}: overmerge unpack vs tar extraction`,
      oursMs: median(om.map((r) => r.ms)),
      baseline: { name: 'dpkg-deb --fsys-tarfile | tar -x', ms: median(tar.map((r) => r.ms)) },
      note: `${what}; tar neither syncs nor records anything; tar runs ${seconds(tar)} s`,
    },
    {
      name: `${name}: reinstall of the same set over the installed root`,
      oursMs: median(omAgain.map((r) => r.ms)),
      baseline: { name: 'dpkg --unpack again', ms: median(dpAgain.map((r) => r.ms)) },
      note: `non-directories rewritten or touched (inode or ctime changed, last repetition): overmerge ${rewrittenOm}, dpkg ${rewrittenDp}, of ${files}; runs ${seconds(omAgain)} s vs ${seconds(dpAgain)} s`,
    },
    {
      name: `${name}: peak RSS of overmerge unpack`,
      oursMs: rss.length > 0 ? median(rss) / 1024 : 0,
      unit: 'MiB',
      note: rss.length > 0 ? `max ${(Math.max(...rss) / 1024).toFixed(0)} MiB over ${rss.length} runs (fresh and reinstall), ${existsSync(TIME) ? TIME + ' -v' : 'process.resourceUsage()'}` : 'not measured',
    },
  ];
}

/** The individual times, so a reader sees the spread behind a median. */
function seconds(rs: Run[]): string {
  return rs.map((r) => (r.ms / 1000).toFixed(1)).join('/');
}

/** Writes back dirty pages left by whatever ran before, outside any timed run. */
async function settle(): Promise<void> {
  await execFileP('sync');
}

async function overmergeUnpack(root: string, debs: string[]): Promise<Run> {
  const args = [BIN, 'unpack', '--no-scripts', '--force-depends', '--quiet', '--root', root, ...debs]; // as dpkg --unpack --force-depends
  if (existsSync(TIME)) {
    const { ms, status, output } = await timed(TIME, ['-v', process.execPath, ...args]);
    if (status !== 0) throw new Error(`overmerge unpack failed: ${output.trim().split('\n')[0]}`);
    const m = output.match(/Maximum resident set size \(kbytes\): (\d+)/);
    return { ms, rssKiB: m ? Number(m[1]) : undefined };
  }
  // No GNU time: the CLI run in a wrapper that reports its own peak RSS (KiB) on stderr at exit.
  // With -e, argv[1] is the first argument (bin/overmerge) and argv.slice(2) the CLI's own, as it expects.
  const wrapper = `process.on('exit',()=>process.stderr.write('\\nmaxrss '+process.resourceUsage().maxRSS+'\\n'));require(process.argv[1])`;
  const { ms, status, output } = await timed(process.execPath, ['-e', wrapper, '--', ...args]);
  if (status !== 0) throw new Error(`overmerge unpack failed: ${output.trim().split('\n')[0]}`);
  const m = output.match(/maxrss (\d+)/);
  return { ms, rssKiB: m ? Number(m[1]) : undefined };
}

async function timedDpkg(root: string, debs: string[], interpreters: string[]): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const r = await dpkgUnpack(root, debs, interpreters);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`dpkg --unpack failed: ${dpkgErrors(r.output)}`);
  return { ms };
}

async function tarExtract(root: string, debs: string[]): Promise<Run> {
  // --keep-directory-symlink: follow the root's bin → usr/bin as dpkg and overmerge do.
  const script = 'dir=$1; shift; for f; do dpkg-deb --fsys-tarfile "$f" | tar -x --keep-directory-symlink -C "$dir" || exit 1; done';
  const { ms, status, output } = await timed('sh', ['-c', script, 'sh', root, ...debs]);
  if (status !== 0) throw new Error(`tar extraction failed: ${output.trim().split('\n')[0]}`);
  return { ms };
}

function timed(cmd: string, args: string[]): Promise<{ ms: number; status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: code ?? 1, output: Buffer.concat(err).toString('utf8') });
    });
  });
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
