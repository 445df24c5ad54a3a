import { depIsOk } from './depisok';
import type { Bin, Dep, Pkg, Possi } from './model';
import { pkgLabel } from './names';
import type { Run } from './run';
import { versionSatisfies } from './satisfy';
import type { DeconfigureReason } from './types';

/**
 * What the checks of one archive decide beyond yes or no: packages to deconfigure first, conflictors to
 * remove in favour of the new package, and dpkg's notices explaining a refusal.
 */
export class UnpackDecisions {
  readonly deconfigure: Array<{ pkg: Pkg; reason: DeconfigureReason; removing?: Pkg }> = [];
  readonly conflictors: Pkg[] = [];
  /** dpkg's "considering ..."/"no, ..." notices, kept for the refusal's explanation. */
  readonly notices: string[] = [];

  constructor(
    /** The instance being unpacked. */
    readonly pkg: Pkg,
    /** How dpkg names the archive in messages. */
    readonly archive: string,
  ) {}

  /** dpkg's enqueue_deconfigure. */
  enqueueDeconfigure(pkg: Pkg, reason: DeconfigureReason, removing?: Pkg): void {
    pkg.istobe = 'deconfigure';
    this.deconfigure.unshift({ pkg, reason, removing });
  }
}

/** The name dpkg prints for the package being unpacked (its new record). */
function newLabel(run: Run, d: UnpackDecisions): string {
  return pkgLabel(run.arches, d.pkg, d.pkg.available);
}

/**
 * dpkg's does_replace (src/main/archives.c): the new record Replaces the old package at its installed
 * version.
 */
export function doesReplace(run: Run, newBin: Bin, old: Pkg): boolean {
  for (const dep of newBin.deps) {
    if (dep.type !== 'replaces' || dep.possis[0].name !== old.name) continue;
    const possi = dep.possis[0];
    if (!versionSatisfies(old.installed.version, possi)) continue;
    if (!run.db.archOk(old.installed, possi)) continue;
    return true;
  }
  return false;
}

function properlyInstalled(pkg: Pkg): boolean {
  return pkg.status === 'installed' || pkg.status === 'triggers-pending' || pkg.status === 'triggers-awaited';
}

/**
 * dpkg's check_conflict: one Conflicts relation (the new package's, or an installed package's against it)
 * that holds. It is resolved by removing the conflicting package in favour of the new one when dpkg would:
 * the conflicting package is selected for removal (here: removed in the same transaction) or the new one
 * Replaces it — and whatever depends on it can do without it (or is deconfigured, with --auto-deconfigure).
 * An Essential or Protected conflictor is only removed in favour of an Essential or Protected package, or
 * with the matching --force option; dpkg's test lets an Essential package that is not Protected through
 * whenever it is replaced, and so does this one (same condition, same outcome).
 * Returns false when the archive must be refused.
 */
export function checkConflict(run: Run, dep: Dep, d: UnpackDecisions): boolean {
  const check = depIsOk(run, dep, { wantFix: true });
  if (check.ok) return true;
  const pkg = d.pkg;
  const av = pkg.available!;
  let fix = check.fixByRemove;
  if (fix) {
    if (fix.istobe === 'install-new') fix = dep.owner;
    const old = fix.installed;
    const bothImportant = (av.essential || av.protected) && (old.essential || old.protected);
    const mayGo =
      (fix.want !== 'install' && fix.want !== 'hold') || doesReplace(run, av, fix);
    const allowed = !old.essential || run.inForce('remove-essential') || !old.protected || run.inForce('remove-protected');
    if (bothImportant || (mayGo && allowed)) {
      if (tryRemoveInFavour(run, fix, d)) return true;
    }
  }
  const message = `regarding ${d.archive} containing ${newLabel(run, d)}:\n${check.why}`;
  if (!run.forceConflicts()) {
    run.problem({
      kind: 'conflicts',
      pkg: newLabel(run, d),
      detail: [...d.notices, message].join('\n'),
      error: `conflicting packages - not installing ${newLabel(run, d)}`,
      forcedBy: ['--force-conflicts'],
    });
    return false;
  }
  run.warn(`${message}ignoring conflict, may proceed anyway!`);
  return true;
}

/** The part of check_conflict that decides whether `fix` can be removed in favour of the new package. */
function tryRemoveInFavour(run: Run, fix: Pkg, d: UnpackDecisions): boolean {
  const arches = run.arches;
  const name = pkgLabel(arches, fix);
  fix.istobe = 'remove';
  d.notices.push(`considering removing ${name} in favour of ${newLabel(run, d)} ...`);
  let blocked = false;
  if (!properlyInstalled(fix)) {
    d.notices.push(`${name} is not properly installed; ignoring any dependencies on it`);
  } else {
    blocked = !dependersCanCope(run, fix, fix.name, d, undefined);
    for (const provide of fix.installed.deps) {
      if (blocked) break;
      if (provide.type !== 'provides') continue;
      blocked = !dependersCanCope(run, fix, provide.possis[0].name, d, provide.possis[0].name);
    }
  }
  if (!blocked && fix.want === 'hold' && !run.inForce('hold')) {
    d.notices.push(`Package ${name} is on hold, not touching it.  Use --force-hold to override.`);
    blocked = true;
  }
  if (blocked) {
    fix.istobe = 'normal';
    return false;
  }
  d.conflictors.push(fix);
  d.notices.push(`yes, will remove ${name} in favour of ${newLabel(run, d)}`);
  return true;
}

/** Whether every installed Depends/Pre-Depends on `name` survives the removal of `removal`. */
function dependersCanCope(run: Run, removal: Pkg, name: string, d: UnpackDecisions, provided: string | undefined): boolean {
  for (const possi of run.db.dependedInstalled(name)) {
    if (possi.dep.type !== 'depends' && possi.dep.type !== 'pre-depends') continue;
    const check = depIsOk(run, possi.dep);
    if (check.ok) continue;
    if (provided !== undefined) {
      d.notices.push(`may have trouble removing ${pkgLabel(run.arches, removal)}, as it provides ${provided} ...`);
    }
    if (!tryRemoveCan(run, possi, removal, check.why, d)) return false;
  }
  return true;
}

/** dpkg's try_remove_can: a depender of a conflictor is forced past, deconfigured, or blocks the removal. */
function tryRemoveCan(run: Run, possi: Possi, removal: Pkg, why: string, d: UnpackDecisions): boolean {
  const arches = run.arches;
  const depender = possi.dep.owner;
  const removing = pkgLabel(arches, removal);
  if (run.forceDepends(possi)) {
    run.warn(`ignoring dependency problem with removal of ${removing}:\n${why}`);
    return true;
  }
  if (!run.autoDeconfigure) {
    d.notices.push(`no, cannot proceed with removal of ${removing} (--auto-deconfigure will help):\n${why}`);
    return false;
  }
  const who = pkgLabel(arches, depender);
  for (const [flag, word] of [
    ['essential', 'essential'],
    ['protected', 'protected'],
  ] as const) {
    if (!depender.installed[flag]) continue;
    if (run.inForce(`remove-${flag}`)) {
      run.warn(`considering deconfiguration of ${word}\n package ${who}, to enable removal of ${removing}`);
    } else {
      d.notices.push(`no, ${who} is ${word}, will not deconfigure\n it in order to enable removal of ${removing}`);
      return false;
    }
  }
  d.enqueueDeconfigure(depender, 'removal', removal);
  return true;
}

/**
 * dpkg's check_breaks: the new package Breaks an installed one. With --auto-deconfigure the broken package
 * is deconfigured before the unpack (and must be reconfigurable afterwards, so in practice upgraded in the
 * same run); --force-breaks proceeds; otherwise the archive is refused.
 */
export function checkBreaks(run: Run, dep: Dep, d: UnpackDecisions): boolean {
  const check = depIsOk(run, dep, { wantFix: true });
  if (check.ok) return true;
  const pkgName = newLabel(run, d);
  const fix = check.fixByRemove;
  let done = false;
  if (fix && run.autoDeconfigure) {
    const who = pkgLabel(run.arches, fix);
    d.notices.push(`considering deconfiguration of ${who}, which would be broken by installation of ${pkgName} ...`);
    if (run.forceBreaks(dep.possis[0])) {
      run.warn(`ignoring dependency problem with installation of ${pkgName}:\n${check.why}`);
    } else {
      d.enqueueDeconfigure(fix, 'breaks');
      d.notices.push(`yes, will deconfigure ${who} (broken by ${pkgName})`);
    }
    done = true;
  } else {
    d.notices.push(`regarding ${d.archive} containing ${pkgName}:\n${check.why}`);
  }
  if (done) return true;
  if (run.forceBreaks(dep.possis[0])) {
    run.warn(`${d.notices.pop()}ignoring breakage, may proceed anyway!`);
    return true;
  }
  run.problem({
    kind: 'breaks',
    pkg: pkgName,
    detail: d.notices.join('\n'),
    error:
      fix && !run.autoDeconfigure
        ? `installing ${pkgName} would break ${pkgLabel(run.arches, fix)}, and\n deconfiguration is not permitted (--auto-deconfigure might help)`
        : `installing ${pkgName} would break existing software`,
    forcedBy: fix && !run.autoDeconfigure ? ['--auto-deconfigure', '--force-breaks'] : ['--force-breaks'],
  });
  return false;
}
