import { parseRootPath, type RootPath } from '../fs/rootpath';

/**
 * What a bootstrap lays into the empty folder before any package, as data: the merged-/usr layout, the
 * device nodes maintainer scripts redirect to, dpkg's empty database and an unconfigured fstab. Pure; the
 * entries are made by make-skeleton.ts, each only where nothing is yet (so a resumed bootstrap makes only
 * what is missing). Owner root, `mtime` the bootstrap's time (SOURCE_DATE_EPOCH when set).
 */
export type SkeletonEntry =
  | { kind: 'dir'; path: RootPath; mode: number }
  | { kind: 'symlink'; path: RootPath; target: string }
  | { kind: 'char'; path: RootPath; mode: number; major: number; minor: number }
  | { kind: 'file'; path: RootPath; mode: number; content: string };

/**
 * The top-level folders merged /usr turns into symlinks to their /usr counterparts: debootstrap's list
 * (bin, sbin, lib and every multilib folder Debian has used). Those no package of the set needs are removed
 * again at the end (unusedMergedLinks), which leaves what debootstrap's merge leaves: a link for each such
 * folder the packages ship (bin, lib, lib64 and sbin on amd64).
 */
export const MERGED_USR_LINKS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libo32', 'libx32'] as const;

/** The ones every Debian root keeps whatever it ships there. */
const ALWAYS_LINKED = new Set<string>(['bin', 'sbin', 'lib']);

/**
 * Device nodes as debootstrap and mmdebstrap make them in a chroot (the list systemd allows a container:
 * null, zero, full, random, urandom, tty, console, ptmx), with the /proc/self/fd links and the pts and shm
 * mount points. Scripts write to /dev/null constantly; without it each `>/dev/null` would create a file.
 */
const DEVICES: ReadonlyArray<readonly [name: string, major: number, minor: number]> = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
  ['console', 5, 1],
  ['ptmx', 5, 2],
];

const FD_LINKS: ReadonlyArray<readonly [name: string, target: string]> = [
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
];

/** What debootstrap and mmdebstrap write when the packages have not given /etc/fstab. */
export const UNCONFIGURED_FSTAB = '# UNCONFIGURED FSTAB FOR BASE SYSTEM\n';

export interface SkeletonOptions {
  /** dpkg's native architecture of the root (var/lib/dpkg/arch). */
  arch: string;
  /** Device nodes need root; without it the root gets none (scripts then run chrootless on the host's /dev). */
  devices: boolean;
}

const p = (s: string): RootPath => parseRootPath(s);

export function skeleton(o: SkeletonOptions): SkeletonEntry[] {
  const out: SkeletonEntry[] = [{ kind: 'dir', path: p('usr'), mode: 0o755 }];
  for (const d of MERGED_USR_LINKS) {
    out.push({ kind: 'dir', path: p(`usr/${d}`), mode: 0o755 });
    out.push({ kind: 'symlink', path: p(d), target: `usr/${d}` });
  }
  if (o.devices) {
    out.push({ kind: 'dir', path: p('dev'), mode: 0o755 });
    for (const [name, major, minor] of DEVICES) out.push({ kind: 'char', path: p(`dev/${name}`), mode: 0o666, major, minor });
    for (const [name, target] of FD_LINKS) out.push({ kind: 'symlink', path: p(`dev/${name}`), target });
    out.push({ kind: 'dir', path: p('dev/pts'), mode: 0o755 }, { kind: 'dir', path: p('dev/shm'), mode: 0o755 });
  }
  // dpkg's database, empty, as debootstrap and mmdebstrap start it: dpkg and apt refuse a root without status.
  for (const d of ['var', 'var/lib', 'var/lib/dpkg', 'var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers', 'var/lib/dpkg/alternatives']) {
    out.push({ kind: 'dir', path: p(d), mode: 0o755 });
  }
  out.push({ kind: 'file', path: p('var/lib/dpkg/status'), mode: 0o644, content: '' });
  out.push({ kind: 'file', path: p('var/lib/dpkg/available'), mode: 0o644, content: '' });
  // Written even for a native root, as mmdebstrap does, so that a root made chrootless for a foreign
  // architecture and one made natively are the same.
  out.push({ kind: 'file', path: p('var/lib/dpkg/arch'), mode: 0o644, content: `${o.arch}\n` });
  out.push({ kind: 'dir', path: p('etc'), mode: 0o755 });
  out.push({ kind: 'file', path: p('etc/fstab'), mode: 0o644, content: UNCONFIGURED_FSTAB });
  return out;
}

/** The multilib links that may go at the end if nothing of the set landed beneath them. */
export function optionalMergedLinks(): RootPath[] {
  return MERGED_USR_LINKS.filter((d) => !ALWAYS_LINKED.has(d)).map((d) => p(d));
}

/** policy-rc.d as debootstrap and mmdebstrap write it: invoke-rc.d asks it, and 101 means "start nothing". */
export const POLICY_RC_D = { path: p('usr/sbin/policy-rc.d'), mode: 0o755, content: '#!/bin/sh\nexit 101\n' } as const;
