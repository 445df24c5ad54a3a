import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildAdHocDeb, type AdHocPackage } from '../helpers/fixtures';

/**
 * Real dpkg on a temporary root, as the oracle for src/dpkg/. dpkg runs with `--root=R` and
 * `--force-script-chrootless`: the fixture packages' maintainer scripts are `exit 0` (or, for the
 * interrupted-run test, kill dpkg), so running them on the host is harmless, and no shell is needed inside
 * R. `--log=/dev/null` keeps dpkg from appending to the host's /var/log/dpkg.log.
 */
export const NATIVE = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout?.trim() || 'amd64';
export const FOREIGN = NATIVE === 'i386' ? 'amd64' : 'i386';

/** Why these tests cannot run here, or undefined. */
export function cannotRunDpkg(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (dpkg --root writes root-owned files)';
  for (const tool of ['dpkg', 'dpkg-deb', 'dpkg-query', 'dpkg-divert', 'dpkg-statoverride']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} on PATH`;
  }
  return undefined;
}

export interface DpkgRoot {
  readonly root: string;
  readonly admin: string;
}

/** A root with the admin directory dpkg --root expects (status, available, info/, updates/, triggers/). */
export function makeDpkgRoot(root: string): DpkgRoot {
  const admin = path.join(root, 'var/lib/dpkg');
  for (const d of ['info', 'updates', 'triggers']) fs.mkdirSync(path.join(admin, d), { recursive: true, mode: 0o755 });
  for (const f of ['status', 'available']) fs.writeFileSync(path.join(admin, f), '', { flag: 'a' });
  return { root, admin };
}

const ENV = { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' };

function run(cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env: ENV, input, maxBuffer: 64 * 1024 * 1024 });
}

/** `dpkg --root=R ARGS...`; throws with dpkg's output unless it exits 0 (or `allowFail`). */
export function dpkg(r: DpkgRoot, args: string[], options: { allowFail?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
  const res = run('dpkg', [`--root=${r.root}`, '--force-script-chrootless', '--log=/dev/null', ...args], options.input);
  if (res.status !== 0 && !options.allowFail) throw new Error(`dpkg ${args.join(' ')} failed (${res.status}):\n${res.stdout}${res.stderr}`);
  return res;
}

/** A read-only query with `--admindir` (dpkg-query, dpkg -s/-l/-L/--audit, ...): its stdout. */
export function query(r: DpkgRoot, cmd: 'dpkg-query' | 'dpkg', args: string[]): string {
  const res = run(cmd, [`--admindir=${r.admin}`, ...args]);
  if (res.status !== 0 && !(cmd === 'dpkg' && args[0] === '--audit')) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${res.stdout}${res.stderr}`);
  }
  return res.stdout;
}

/** dpkg-divert / dpkg-statoverride with `--root` (they take `--admindir` from it). */
export function tool(r: DpkgRoot, cmd: 'dpkg-divert' | 'dpkg-statoverride' | 'dpkg-trigger', args: string[]): string {
  const res = run(cmd, [`--root=${r.root}`, ...args]);
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${res.stdout}${res.stderr}`);
  return res.stdout;
}

/** `dpkg-query -W -f FORMAT` over every package (installed or not), one line each. */
export function queryAll(r: DpkgRoot, format: string): string[] {
  return query(r, 'dpkg-query', ['-W', '-f', format, '*'])
    .split('\n')
    .filter((l) => l !== '');
}

/** A package whose maintainer scripts do nothing, with a conffile, a data file and a file trigger. */
export function quietPackage(name: string, version: string, arch = 'all', extra: Partial<AdHocPackage> = {}): AdHocPackage {
  const quiet = '#!/bin/sh\nexit 0\n';
  return {
    name,
    version,
    entries: [
      { path: `etc/${name}/${name}.conf`, type: 'file', content: `${name} configuration\n` },
      { path: `usr/share/${name}/data-${arch}`, type: 'file', content: `${name} ${version} ${arch}\n` },
      { path: `usr/share/doc/${name}`, type: 'dir' },
    ],
    conffiles: [`/etc/${name}/${name}.conf`],
    fields: { Architecture: arch, ...extra.fields },
    controlMembers: { preinst: quiet, postinst: quiet, prerm: quiet, postrm: quiet, ...extra.controlMembers },
    ...(extra.entries ? { entries: extra.entries } : {}),
  };
}

/** Builds `pkg` into its own folder under `work` (two architectures of one package get the same file name). */
export async function buildDeb(work: string, pkg: AdHocPackage): Promise<string> {
  const dir = fs.mkdtempSync(path.join(work, `deb-${pkg.name}-`));
  return buildAdHocDeb(dir, pkg);
}

/** The files of a directory tree (relative path → bytes), for "nothing was written" checks. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.set(`${p}/`, '');
        walk(p);
      } else {
        const st = fs.lstatSync(path.join(dir, p));
        out.set(p, `${st.ino}:${st.mtimeMs}:${e.isFile() ? fs.readFileSync(path.join(dir, p)).toString('base64') : ''}`);
      }
    }
  };
  walk('');
  return out;
}
