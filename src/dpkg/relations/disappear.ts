import { depIsOk } from './depisok';
import type { Pkg } from './model';
import { refOf } from './names';
import type { Run } from './run';
import type { PackageRef } from './types';

/**
 * dpkg's pkg_disappear_others (src/main/unpack.c), run right after an archive is unpacked: an installed
 * package every one of whose files the new package now ships — or another package also owns (shared
 * folders) — has nothing left of its own, so dpkg forgets it ("Noting disappearance of ..."), unless a
 * Depends, Pre-Depends or Recommends of an installed package still needs it (or a name it provides).
 * A package that owns nothing but `/.` never disappears, nor does another instance of a Multi-Arch: same
 * package, nor a package already being removed. Returns the instances that disappear, as they were.
 * Diversions, which can make two names one file, are not modelled: the planner compares paths.
 */
export function disappearOthers(run: Run, pkg: Pkg): Array<{ pkg: Pkg; ref: PackageRef }> {
  const gone: Array<{ pkg: Pkg; ref: PackageRef }> = [];
  for (const other of candidates(run)) {
    if (other === pkg || other.status === 'not-installed' || other.status === 'config-files') continue;
    if (other.istobe === 'remove' || other.installed.files.length === 0) continue;
    if (pkg.installed.multiArch === 'same' && other.installed.multiArch === 'same' && other.set === pkg.set) continue;
    if (other.installed.files.every((f) => f === '')) continue;
    if (other.installed.files.some((f) => fileSaves(run, f, other, pkg))) continue;
    if (!othersCanDoWithout(run, other)) continue;
    gone.push({ pkg: other, ref: refOf(run.arches, other) });
    disappear(run, other);
  }
  return gone;
}

/**
 * The only instances that can disappear, found through the file index rather than by looking at every
 * installed package as dpkg does: those owning no path alone (the new package, having just been unpacked,
 * counts as an owner of what it ships). Any other has a path nobody else lists, which saves it. Sorted by
 * name (dpkg goes in hash order).
 */
function candidates(run: Run): Pkg[] {
  return [...run.db.shadowed()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.installed.arch < b.installed.arch ? -1 : 1,
  );
}

/**
 * dpkg's filesavespackage: a file keeps its package alive unless the new package ships it or a third
 * package (still listed as owning files) owns it too. What the new package ships is what the owner index
 * lists it for, since it was just unpacked (Db.setInstalled): no set of a huge archive's paths.
 */
function fileSaves(run: Run, file: string, saved: Pkg, installing: Pkg): boolean {
  if (run.db.someOwnerOf(file, (o) => o === installing)) return false;
  for (const third of run.db.ownersOf(file)) {
    if (third === installing || third === saved) continue;
    // Instances of a Multi-Arch: same package share their files; that is no reason to let one go.
    if (saved.installed.multiArch === 'same' && third.set === saved.set) continue;
    if (!third.filesValid) continue;
    return false;
  }
  return true;
}

/** Whether nothing installed needs `other` (by name or by what it provides) once it is gone. */
function othersCanDoWithout(run: Run, other: Pkg): boolean {
  other.istobe = 'remove';
  try {
    const names = [other.name, ...other.installed.deps.filter((d) => d.type === 'provides').map((d) => d.possis[0].name)];
    for (const name of names) {
      for (const possi of run.db.dependedInstalled(name)) {
        const t = possi.dep.type;
        if (t !== 'depends' && t !== 'pre-depends' && t !== 'recommends') continue;
        if (!depIsOk(run, possi.dep).ok) return false;
      }
    }
    return true;
  } finally {
    other.istobe = 'normal';
  }
}

/** dpkg's pkg_disappear: the package is forgotten (its postrm is run with `disappear`). */
function disappear(run: Run, pkg: Pkg): void {
  pkg.status = 'not-installed';
  pkg.want = 'unknown';
  pkg.configVersion = undefined;
  run.db.setInstalled(pkg, { ...pkg.installed, deps: [], files: [], versionText: '', version: undefined });
  run.db.dropFiles(pkg);
}
