import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { readDebControl } from '../../src/archive/deb';
import { installGroups, setArchitecture, setPackageOf } from '../../src/bootstrap/package-set';
import { realDebsDir, realDebsOf, type RealDebs } from './real-debs';

const execFileP = promisify(execFile);

/**
 * The archives of the package set `mmdebstrap --variant=minbase --include=apt bookworm` installs: Debian
 * 12's Priority: required packages and apt, their dependencies as apt resolves them from nothing installed
 * (Recommends not followed), and usr-is-merged for the `usrmerge | usr-is-merged` alternative, which
 * mmdebstrap's merged-usr hook satisfies that way (88 archives). apt of this Debian 12 machine resolves it;
 * /work/shared/tools/get-real-debs.sh fetches it into the cache. `{ skip }` when that cannot be done.
 */
export async function minbaseDebs(): Promise<RealDebs> {
  const release = await fsp.readFile('/etc/os-release', 'utf8').catch(() => '');
  if (!/^VERSION_CODENAME=bookworm$/m.test(release)) {
    return { skip: 'the minbase set is resolved by the apt of a Debian 12 (bookworm) machine; this is not one' };
  }
  let names: string[];
  try {
    names = await minbaseNames();
  } catch (err) {
    return { skip: `apt could not resolve the minbase set (package lists missing or registry unreachable?): ${(err as Error).message.split('\n')[0]}` };
  }
  return realDebsOf(path.join(realDebsDir('bookworm-minbase')), names);
}

/** The Essential set alone (Essential: yes and what it depends on), from the minbase archives. */
export async function essentialOf(files: readonly string[]): Promise<string[]> {
  const set = [];
  for (const f of files) set.push(setPackageOf(await readDebControl(f)));
  return installGroups(set, setArchitecture(set)).essential.map((p) => p.archive);
}

async function minbaseNames(): Promise<string[]> {
  const avail = await execFileP('apt-cache', ['dumpavail'], { maxBuffer: 1 << 28 });
  const required = new Set<string>();
  let pkg = '';
  for (const line of avail.stdout.split('\n')) {
    if (line.startsWith('Package: ')) pkg = line.slice(9).trim();
    else if (line === 'Priority: required') required.add(pkg);
  }
  if (required.size === 0) throw new Error('apt knows no Priority: required package');
  const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'overmerge-minbase-'));
  try {
    const status = path.join(scratch, 'status');
    await fsp.writeFile(status, '');
    const sim = await execFileP(
      'apt-get',
      ['install', '--simulate', '-o', `Dir::State::status=${status}`, '-o', `Dir::Log=${scratch}`, '-o', 'APT::Install-Recommends=false', ...[...required].sort(), 'apt', 'usr-is-merged'],
      { maxBuffer: 1 << 26, env: { ...process.env, LC_ALL: 'C' } },
    );
    return sim.stdout
      .split('\n')
      .filter((l) => l.startsWith('Inst '))
      .map((l) => l.split(' ')[1])
      .sort();
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}
