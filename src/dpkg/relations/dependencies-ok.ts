import { formatVersion } from '../../control/version';
import type { Pkg, Possi } from './model';
import { STATUS_WORDS, describeDep, pkgLabel, pkgLabelAlways, versionText } from './names';
import { DependTry, type Run } from './run';
import { versionSatisfies, virtualSatisfied } from './satisfy';

/**
 * dpkg's dependencies_ok and breakses_ok (src/main/packages.c): the checks made when a package is about to
 * be configured (its Depends and Pre-Depends must be configured, others' Breaks must not hit it) or when a
 * package it depends on is about to be removed. Unlike the unpack-time check, an unsatisfied dependency
 * may *defer*: it will be satisfied once a package queued in the same run is configured, or once the loop
 * has become lenient enough (cycle breaking, --force-depends-version, --force-depends).
 */
export type DepCheckResult = 'halt' | 'defer' | 'ok';

/** How one candidate fares; ordered, the best of several wins. */
const enum Found {
  none = 0,
  defer = 1,
  forced = 2,
  ok = 3,
}

interface GroupState {
  matched: boolean;
  interesting: number;
  lines: string;
}

function foundForcedOn(run: Run, level: number): Found {
  return run.dependtry >= level ? Found.forced : Found.defer;
}

/**
 * dpkg's deppossi_ok_found: whether `dependee` (the real package, or through `provider` a package providing
 * the name) satisfies alternative `possi`, when `removing` is about to go. Reasons go to `g`.
 */
function possiOkFound(
  run: Run,
  dependee: Pkg,
  removing: Pkg | undefined,
  provider: Possi | undefined,
  possi: Possi,
  g: GroupState,
): Found {
  if (run.ignoreDepends(dependee)) return Found.ok;
  const name = pkgLabel(run.arches, dependee);
  const via = provider ? ` which provides ${provider.name}` : '';
  if (dependee === removing) {
    g.lines += `  Package ${name}${via} is to be removed.\n`;
    g.matched = true;
    return Found.none;
  }
  let found = Found.none;
  switch (dependee.status) {
    case 'unpacked':
    case 'half-configured':
    case 'triggers-awaited':
    case 'triggers-pending':
    case 'installed': {
      if (possi.constraint) {
        if (provider) {
          if (!virtualSatisfied(possi, provider)) {
            const v = provider.constraint ? formatVersion(provider.constraint.version) : '<none>';
            g.lines += `  Version of ${possi.name} on system, provided by ${pkgLabelAlways(dependee)}, is ${v}.\n`;
            if (run.inForce('depends-version')) found = foundForcedOn(run, DependTry.forceDependsVersion);
            break;
          }
        } else if (!versionSatisfies(dependee.installed.version, possi)) {
          g.lines += `  Version of ${name} on system is ${versionText(dependee.installed)}.\n`;
          if (run.inForce('depends-version')) found = foundForcedOn(run, DependTry.forceDependsVersion);
          break;
        }
      }
      if (dependee.status === 'installed' || dependee.status === 'triggers-pending') return Found.ok;
      if (dependee.status === 'triggers-awaited') {
        // Trigger processing is not planned here (see triggers.ts): dpkg with --no-triggers says this.
        g.lines += `  Package ${name}${via} awaits trigger processing.\n`;
        break;
      }
      if (dependee.istobe === 'install-new') return Found.defer;
      g.lines += `  Package ${name}${via} is not configured yet.\n`;
      break;
    }
    default:
      g.lines += `  Package ${name}${via} is not installed.\n`;
      break;
  }
  g.interesting++;
  return found;
}

/**
 * Checks the Depends and Pre-Depends of `pkg`'s installed record. Appends dpkg's explanation to `msgs`
 * for every group that is not satisfied (and not deferred): " pkg depends on x; however:\n  ...".
 */
export function dependenciesOk(run: Run, pkg: Pkg, removing: Pkg | undefined, msgs: string[]): DepCheckResult {
  let ok: DepCheckResult = 'ok';
  for (const dep of pkg.installed.deps) {
    if (dep.type !== 'depends' && dep.type !== 'pre-depends') continue;
    const g: GroupState = { matched: false, interesting: 0, lines: '' };
    let found = Found.none;
    for (const possi of dep.possis) {
      if (found === Found.ok) break;
      if (possi.cyclebreak) {
        found = Found.ok;
        break;
      }
      let thisf = Found.none;
      for (const cand of run.db.candidates(possi, 'installed')) {
        thisf = possiOkFound(run, cand, removing, undefined, possi, g);
        if (thisf > found) found = thisf;
        if (found === Found.ok) break;
      }
      if (found !== Found.ok) {
        for (const provider of run.db.dependedInstalled(possi.name)) {
          if (found === Found.ok) break;
          if (provider.dep.type !== 'provides') continue;
          const who = provider.dep.owner;
          // The provider's own architecture and Multi-Arch decide, as for a real package.
          const providerBin = { arch: provider.arch, multiArch: who.installed.multiArch };
          if (!run.db.archOk(providerBin, possi)) continue;
          thisf = possiOkFound(run, who, removing, provider, possi, g);
          // A package satisfying its own dependency through its Provides passes while being installed.
          if (thisf === Found.defer && who === pkg && !removing) thisf = Found.ok;
          if (thisf > found) found = thisf;
        }
      }
      if (thisf > found) found = thisf;
    }

    if (run.inForce('depends')) {
      const forced = foundForcedOn(run, DependTry.forceDepends);
      if (forced > found) found = forced;
    }
    if (removing && !g.matched) continue;

    switch (found) {
      case Found.none:
      case Found.forced: {
        if (found === Found.none) ok = 'halt';
        // dpkg says "depends on" here for Pre-Depends too.
        const head = ` ${pkgLabel(run.arches, pkg)} depends on ${describeDep(dep)}`;
        msgs.push(g.interesting > 0 ? `${head}; however:\n${g.lines}` : `${head}.\n`);
        break;
      }
      case Found.defer:
        if (ok === 'ok') ok = 'defer';
        break;
      default:
        break;
    }
  }
  if (ok === 'halt' && pkg.istobe === 'remove') ok = 'defer';
  return ok;
}

/**
 * dpkg's breakses_ok: whether any installed package's Breaks hits `pkg` (by name or through what it
 * provides). Appends dpkg's explanation per hit. Never defers: a breaker must go before configuration.
 */
export function breaksesOk(run: Run, pkg: Pkg, msgs: string[]): boolean {
  let ok = true;
  const check = (name: string, virt: Possi | undefined): void => {
    for (const breaks of run.db.dependedInstalled(name)) {
      if (breaks.dep.type !== 'breaks') continue;
      if (!breaksCheckOne(run, breaks, pkg, breaks.dep.owner, virt, msgs)) ok = false;
    }
  };
  check(pkg.name, undefined);
  for (const dep of pkg.installed.deps) {
    if (dep.type === 'provides') check(dep.possis[0].name, dep.possis[0]);
  }
  return ok;
}

/** dpkg's breaks_check_one; false when the Breaks halts configuration. */
function breaksCheckOne(run: Run, breaks: Possi, broken: Pkg, breaker: Pkg, virt: Possi | undefined, msgs: string[]): boolean {
  if (breaker.status === 'not-installed' || breaker.status === 'config-files') return true;
  if (broken === breaker) return true;
  const c = breaks.constraint;
  // dpkg compares the broken package's own version even when the name is a virtual one it provides.
  if (!versionSatisfies(broken.installed.version, breaks)) return true;
  if (!run.db.archOk(broken.installed, breaks)) return true;
  if (run.ignoreDepends(breaker)) return true;
  if (virt && run.ignoreDepends(run.db.findSet(virt.name).pkgs[0])) return true;
  if (virt && !virtualSatisfied(breaks, virt)) return true;

  const arches = run.arches;
  let text = ` ${pkgLabel(arches, breaker)} (${versionText(breaker.installed)}) breaks ${describeDep(breaks.dep)} and is ${STATUS_WORDS[breaker.status]}.\n`;
  if (virt) {
    text += `  ${pkgLabel(arches, broken)} (${versionText(broken.installed)}) provides ${virt.name}.\n`;
  } else if (c) {
    text += `  Version of ${pkgLabel(arches, broken)} to be configured is ${versionText(broken.installed)}.\n`;
    if (run.inForce('depends-version')) {
      msgs.push(text);
      return true;
    }
  }
  msgs.push(text);
  return run.forceBreaks(breaks);
}
