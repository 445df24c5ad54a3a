import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './run-cli';

const execFileP = promisify(execFile);

/** Where the fetch script keeps a set (outside the repository; never commit these archives). */
export function realDebsDir(set: string): string {
  const base = process.env.OVERMERGE_DEBS || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'overmerge-debs');
  return path.join(base, set);
}

/** shared/ sits beside the repository (CI clones main with shared/ next to it). */
const FETCH_SCRIPT = process.env.OVERMERGE_GET_DEBS || path.resolve(REPO_ROOT, '..', 'shared', 'tools', 'get-real-debs.sh');

export type RealDebs = { files: string[]; dir: string } | { skip: string };

async function listed(dir: string): Promise<string[] | undefined> {
  const text = await fsp.readFile(path.join(dir, 'set.txt'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const names = text.split('\n').filter((n) => n.endsWith('.deb'));
  return names.length > 0 ? names.map((n) => path.join(dir, n)) : undefined;
}

/**
 * Real Debian archives of a set (default Debian's Priority: required set), fetched into the cache on
 * first use. Resolves to `{ skip }` with the reason only when they cannot be had (no fetch script, the
 * archive registry unreachable); tests pass the result to gate(), which skips with the reason.
 */
export async function realDebs(set = 'required'): Promise<RealDebs> {
  const dir = realDebsDir(set);
  let files = await listed(dir);
  if (!files) {
    try {
      await fsp.access(FETCH_SCRIPT);
    } catch {
      return { skip: `real Debian archives unavailable: no ${dir}/set.txt and no fetch script at ${FETCH_SCRIPT}` };
    }
    try {
      await fetchOnce(dir, () => execFileP(FETCH_SCRIPT, [set], { cwd: REPO_ROOT, timeout: 15 * 60 * 1000, maxBuffer: 1 << 24 }));
    } catch (err) {
      const detail = String((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').pop();
      return { skip: `real Debian archives unavailable: fetching '${set}' failed (registry unreachable?): ${detail}` };
    }
    files = await listed(dir);
    if (!files) return { skip: `real Debian archives unavailable: ${FETCH_SCRIPT} ${set} left no set.txt in ${dir}` };
  }
  return { files, dir };
}

/**
 * Real Debian archives of the packages `names`, fetched by the script into `base`/FIRST-NAME on first use
 * (the script names a set of packages after its first one); `{ skip }` as realDebs.
 */
export async function realDebsOf(base: string, names: readonly string[]): Promise<RealDebs> {
  if (names.length === 0) return { skip: 'real Debian archives unavailable: no package names to fetch' };
  const dir = path.join(base, names[0]);
  let files = await listed(dir);
  if (!files) {
    try {
      await fetchOnce(dir, () => execFileP(FETCH_SCRIPT, [...names], { cwd: REPO_ROOT, timeout: 15 * 60 * 1000, maxBuffer: 1 << 24, env: { ...process.env, OVERMERGE_DEBS: base } }));
    } catch (err) {
      const detail = String((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').pop();
      return { skip: `real Debian archives unavailable: fetching ${names.length} packages failed (registry unreachable?): ${detail}` };
    }
    files = await listed(dir);
    if (!files) return { skip: `real Debian archives unavailable: ${FETCH_SCRIPT} left no set.txt in ${dir}` };
  }
  return { files, dir };
}

/**
 * Test files run in parallel processes: the first to need a set fetches it (holding a lock folder), the
 * others wait for its set.txt instead of downloading into the same folder at the same time.
 */
async function fetchOnce(dir: string, fetch: () => Promise<unknown>): Promise<void> {
  const lock = `${dir}.fetching`;
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  const held = await fsp.stat(lock).catch(() => undefined);
  // A lock left by a run that was killed mid-fetch is older than any fetch takes.
  if (held && Date.now() - held.mtimeMs > 20 * 60 * 1000) await fsp.rm(lock, { recursive: true, force: true });
  try {
    await fsp.mkdir(lock);
  } catch {
    const until = Date.now() + 15 * 60 * 1000;
    while (Date.now() < until && !(await listed(dir))) {
      if (!(await fsp.stat(lock).catch(() => undefined))) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (await listed(dir)) return;
  }
  try {
    await fetch();
  } finally {
    await fsp.rm(lock, { recursive: true, force: true });
  }
}
