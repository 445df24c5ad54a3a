import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, existsSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { acquireLock } from '../../src/fs/lock';
import { resolveHostPath } from '../../src/fs/host-path';
import { minbaseDebs } from './minbase-debs';
import { REPO_ROOT } from './run-cli';

const execFileP = promisify(execFile);

/**
 * A Debian chroot for driving real apt, and a local apt repository of fixture packages.
 *
 * The base chroot is bootstrapped by overmerge itself (`overmerge bootstrap`) from the archives of the set
 * `mmdebstrap --variant=minbase --include=apt` picks on a Debian 12 host (helpers/minbase-debs.ts), with
 * overmerge's own database then left out, so that the chroot holds dpkg's database alone, as any Debian
 * root does. Where that set cannot be had (another release), mmdebstrap's `apt` variant of the host's
 * release stands in, and the tests say so. It is built once and kept as a tarball outside the repository
 * ($OVERMERGE_CHROOT_CACHE, or ~/.cache/overmerge-chroot); each test unpacks it afresh (a second or two).
 *
 * apt runs on the host against the chroot (`Dir` pointing into it, `--root` passed to dpkg), not inside
 * it: overmerge-dpkg is a Node program of the host. `RootDir` would not do: apt then chroots before it
 * runs dpkg, where the host's overmerge-dpkg is not.
 */
export const OVERMERGE_DPKG = path.join(REPO_ROOT, 'bin', 'overmerge-dpkg');
export const OVERMERGE = path.join(REPO_ROOT, 'bin', 'overmerge');

function cacheDir(): string {
  return process.env.OVERMERGE_CHROOT_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'overmerge-chroot');
}

/** Why the apt tests cannot run here, or undefined. */
export function cannotDriveApt(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (chroots, maintainer scripts in them, dpkg as the oracle)';
  for (const tool of ['apt-get', 'apt-ftparchive', 'dpkg', 'tar']) if (!onPath(tool)) return `needs ${tool} (apt, apt-utils; .ci/run installs them)`;
  if (!existsSync(tarballPath()) && hostCodename() !== 'bookworm' && !onPath('mmdebstrap')) {
    return 'needs a Debian 12 host (to bootstrap the base chroot with overmerge) or mmdebstrap (.ci/run installs it)';
  }
  return undefined;
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(path.join(d, tool)));
}

function hostCodename(): string {
  const m = /^VERSION_CODENAME=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'));
  return m ? m[1].replace(/"/g, '') : 'stable';
}

/**
 * The tarball of the chroot overmerge bootstraps is named after overmerge's build as well (a hash of
 * dist/src): a chroot made by an older overmerge would hide what this one does.
 */
function tarballPath(): string {
  return path.join(cacheDir(), `${hostCodename()}-overmerge-minbase-${buildFingerprint()}.tar`);
}

let fingerprint: string | undefined;
function buildFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) hash.update(p.slice(REPO_ROOT.length)).update(readFileSync(p));
    }
  };
  walk(path.join(REPO_ROOT, 'dist', 'src'));
  fingerprint = hash.digest('hex').slice(0, 12);
  return fingerprint;
}

function fallbackTarballPath(): string {
  return path.join(cacheDir(), `${hostCodename()}-apt.tar`);
}

/** The host's apt sources (every enabled file), handed to mmdebstrap as they are. */
function hostSources(): string[] {
  const out: string[] = [];
  if (existsSync('/etc/apt/sources.list') && readFileSync('/etc/apt/sources.list', 'utf8').trim() !== '') out.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const n of readdirSync(dir).sort()) if (n.endsWith('.list') || n.endsWith('.sources')) out.push(path.join(dir, n));
  return out;
}

/**
 * The base chroot tarball, built on first use: `overmerge bootstrap` of the minbase set (a minute or two),
 * or, where that set cannot be had, mmdebstrap's apt variant from the host's apt sources. `note` hears
 * which (the tests pass it to t.diagnostic).
 */
export async function baseChroot(note: (line: string) => void = () => undefined): Promise<string> {
  const tar = tarballPath();
  if (existsSync(tar)) return tar;
  await fsp.mkdir(path.dirname(tar), { recursive: true });
  // Test files run in parallel: the second to ask waits for the first's build (a minute of both cores)
  // instead of making its own. The lock is dropped by the kernel if the builder dies.
  const lock = await acquireLock(resolveHostPath(path.join(path.dirname(tar), 'build.lock')), { waitSeconds: 900, pollMs: 500, label: 'the base chroot build' });
  try {
    if (existsSync(tar)) return tar;
    return await buildBaseChroot(tar, note);
  } finally {
    lock.release();
  }
}

async function buildBaseChroot(tar: string, note: (line: string) => void): Promise<string> {
  const set = await minbaseDebs();
  if ('skip' in set) {
    note(`base chroot: NOT bootstrapped by overmerge (${set.skip}); mmdebstrap's apt variant stands in`);
    return mmdebstrapChroot();
  }
  const dir = await fsp.mkdtemp(path.join(path.dirname(tar), 'bootstrap-'));
  const partial = `${tar}.${process.pid}.partial`;
  try {
    const root = path.join(dir, 'root');
    await execFileP(process.execPath, [OVERMERGE, '--quiet', 'bootstrap', root, ...set.files], { maxBuffer: 1 << 26 });
    // A Debian root as apt and dpkg know it: dpkg's database, not overmerge's (overmerge-dpkg imports it).
    await fsp.rm(path.join(root, 'var/lib/overmerge'), { recursive: true, force: true });
    await execFileP('tar', ['--numeric-owner', '--xattrs', '-cf', partial, '-C', root, '.']);
    await fsp.rename(partial, tar);
    note(`base chroot: bootstrapped by overmerge from ${set.files.length} archives (cached in ${tar})`);
    // Those of earlier builds will not be used again.
    const prefix = `${hostCodename()}-overmerge-minbase-`;
    for (const n of await fsp.readdir(path.dirname(tar))) {
      if (n.startsWith(prefix) && n.endsWith('.tar') && n !== path.basename(tar)) await fsp.rm(path.join(path.dirname(tar), n), { force: true });
    }
  } finally {
    await fsp.rm(partial, { force: true });
    await fsp.rm(dir, { recursive: true, force: true });
  }
  return tar;
}

/** mmdebstrap's apt variant of the host's release, from the host's apt sources. */
async function mmdebstrapChroot(): Promise<string> {
  const tar = fallbackTarballPath();
  if (existsSync(tar)) return tar;
  const partial = `${tar}.${process.pid}.partial`;
  try {
    await execFileP('mmdebstrap', ['--variant=apt', '--mode=root', '--quiet', hostCodename(), partial, ...hostSources()], { maxBuffer: 64 * 1024 * 1024 });
    await fsp.rename(partial, tar);
  } finally {
    await fsp.rm(partial, { force: true });
  }
  return tar;
}

export async function unpackChroot(tarball: string, root: string, repo: string): Promise<void> {
  await execFileP('tar', ['-xf', tarball, '-C', root]);
  await fsp.rm(path.join(root, 'etc/apt/sources.list'), { force: true });
  for (const n of await fsp.readdir(path.join(root, 'etc/apt/sources.list.d'))) await fsp.rm(path.join(root, 'etc/apt/sources.list.d', n));
  await fsp.writeFile(path.join(root, 'etc/apt/sources.list.d/overmerge-test.list'), `deb [trusted=yes] file:${repo} ./\n`);
}

/**
 * apt.conf for apt on the host acting on `root`, with `dpkg` as its dpkg. apt's configuration fragments
 * are read from `parts` (an empty folder of the test), not from the chroot's: its debconf hook would have
 * apt run the host's dpkg-preconfigure.
 */
export function aptConfig(root: string, dpkg: string, parts: string, dpkgOptions: readonly string[] = []): string {
  return [
    `Dir "${root}/";`,
    `Dir::Etc::Parts "${parts}";`,
    `Dir::Bin::dpkg "${dpkg}";`,
    // apt runs its dpkg with PATH set to DPkg::Path: the Node running the tests first, for bin/overmerge-dpkg's
    // `#!/usr/bin/env node` (CI's second run uses a Node that is not the machine's).
    `DPkg::Path "${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin";`,
    `DPkg::Options:: "--root=${root}";`,
    ...dpkgOptions.map((o) => `DPkg::Options:: "${o}";`),
    // The repository is a test's private folder: apt's download sandbox user could not read it.
    'APT::Sandbox::User "root";',
    'Dpkg::Use-Pty "false";',
    'Acquire::Languages "none";',
    '',
  ].join('\n');
}

/** A fresh local repository in `dir` holding `debs` (copied), indexed as apt-ftparchive indexes it. */
export async function writeRepo(dir: string, debs: readonly string[]): Promise<void> {
  for (const n of await fsp.readdir(dir)) await fsp.rm(path.join(dir, n), { force: true });
  for (const d of debs) await fsp.copyFile(d, path.join(dir, path.basename(d)));
  const { stdout: packages } = await execFileP('apt-ftparchive', ['packages', '.'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
  await fsp.writeFile(path.join(dir, 'Packages'), packages);
  const { stdout: release } = await execFileP('apt-ftparchive', ['release', '.'], { cwd: dir });
  await fsp.writeFile(path.join(dir, 'Release'), release);
}

export interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with no standard input, never rejecting. OVERMERGE_TEST_TIMING=1 prints how long each
 * took (to see where an apt test spends its time).
 */
export function run(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // bin/overmerge and bin/overmerge-dpkg start with `#!/usr/bin/env node`, here and under apt: the Node
    // running the tests comes first on PATH (CI's second run uses a Node that is not the machine's).
    const PATH = `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C', PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (process.env.OVERMERGE_TEST_TIMING) process.stderr.write(`[timing] ${Date.now() - started} ms: ${cmd} ${args.join(' ').slice(0, 120)}\n`);
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** apt-get with the configuration file `conf`. */
export function aptGet(conf: string, args: readonly string[]): Promise<Ran> {
  return run('apt-get', ['-y', '-q', ...args], { APT_CONFIG: conf });
}

/**
 * A dpkg for apt (Dir::Bin::dpkg) that runs `dpkg` with one more --status-fd, appending its lines to
 * `capture`, and appends its arguments to `argvLog`: what apt asked and what came back, the same way for
 * real dpkg and overmerge-dpkg.
 */
export async function writeCapturingDpkg(file: string, dpkg: string, capture: string, argvLog: string): Promise<void> {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = ['#!/bin/sh', `printf '%s\\n' "$*" >> ${q(argvLog)}`, `exec ${q(dpkg)} --status-fd 9 "$@" 9>> ${q(capture)}`, ''].join('\n');
  await fsp.writeFile(file, script, { mode: 0o755 });
}
