import { formatVersion } from '../../control/version';
import type { Arches } from './arch';
import type { Bin, Dep, Pkg, Possi } from './model';
import type { PackageRef, PackageStatus } from './types';

/** How dpkg describes each state in its dependency messages (src/main/help.c statusstrings). */
export const STATUS_WORDS: Record<PackageStatus, string> = {
  'not-installed': 'not installed',
  'config-files': 'not installed but configs remain',
  'half-installed': 'broken due to failed removal or installation',
  unpacked: 'unpacked but not configured',
  'half-configured': 'broken due to postinst failure',
  'triggers-awaited': 'awaiting trigger processing by another package',
  'triggers-pending': 'triggered',
  installed: 'installed',
};

/**
 * The name dpkg prints for an instance (pkg_name with pnaw_nonambig): `name:arch` for a Multi-Arch: same
 * package or one of a foreign architecture, `name` otherwise.
 */
export function pkgLabel(arches: Arches, pkg: Pkg, bin: Bin = pkg.installed): string {
  if (bin.arch === '') return pkg.name;
  if (bin.multiArch === 'same') return `${pkg.name}:${bin.arch}`;
  const cls = arches.classify(bin.arch);
  return cls === 'native' || cls === 'all' ? pkg.name : `${pkg.name}:${bin.arch}`;
}

/** pkg_name with pnaw_always, as dpkg's debug output names packages. */
export function pkgLabelAlways(pkg: Pkg, bin: Bin = pkg.installed): string {
  return bin.arch === '' ? pkg.name : `${pkg.name}:${bin.arch}`;
}

/** dpkg's versiondescribe (vdew_nonambig). */
export function versionText(bin: Bin): string {
  return bin.version ? formatVersion(bin.version) : '<none>';
}

/** One group of a relation as dpkg prints it (varbufdependency). */
export function describeDep(dep: Dep): string {
  return dep.possis.map(describePossi).join(' | ');
}

export function describePossi(possi: Possi): string {
  let out = possi.implicit ? possi.name : `${possi.name}:${possi.arch}`;
  if (possi.constraint) out += ` (${possi.constraint.op} ${formatVersion(possi.constraint.version)})`;
  return out;
}

/** "hello depends on libgreet (>= 2)", dpkg's describedepcon. */
export function describeRelation(arches: Arches, dep: Dep): string {
  const who = pkgLabel(arches, dep.owner);
  const what = describeDep(dep);
  switch (dep.type) {
    case 'depends':
      return `${who} depends on ${what}`;
    case 'pre-depends':
      return `${who} pre-depends on ${what}`;
    case 'recommends':
      return `${who} recommends ${what}`;
    case 'breaks':
      return `${who} breaks ${what}`;
    case 'conflicts':
      return `${who} conflicts with ${what}`;
    default:
      return `${who} ${dep.type} ${what}`;
  }
}

/** The reference a plan step carries for an instance, judged by `bin`. */
export function refOf(arches: Arches, pkg: Pkg, bin: Bin = pkg.installed): PackageRef {
  return { name: pkg.name, architecture: bin.arch, label: pkgLabel(arches, pkg, bin), version: bin.versionText };
}
