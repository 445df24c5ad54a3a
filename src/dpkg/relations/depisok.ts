import { formatVersion } from '../../control/version';
import type { Bin, Dep, Pkg, Possi } from './model';
import { STATUS_WORDS, describeRelation, pkgLabel, versionText } from './names';
import type { Run } from './run';
import { versionSatisfies, virtualSatisfied } from './satisfy';

/**
 * dpkg's depisok (src/main/depcon.c): whether one relation group holds *while an archive is unpacked*:
 * Pre-Depends of the new package, its Conflicts and Breaks, and — when a package is to be removed or to
 * disappear — the Depends of the packages left behind. Instances are judged by their `istobe`: the one
 * being installed by its new record, those to be removed or deconfigured as gone.
 */
export interface DepCheck {
  readonly ok: boolean;
  /** dpkg's "whynot": " <relation>\n" then "  <reason>\n" lines. Meaningful only when not ok. */
  readonly why: string;
  /** For Conflicts/Breaks: the one instance whose removal or deconfiguration would fix it. */
  readonly fixByRemove?: Pkg;
}

export interface DepCheckOptions {
  /**
   * Accept a dependee that is unpacked but was configured before at an acceptable version (dpkg's
   * allowunconfigd, used for Pre-Depends only).
   */
  readonly allowUnconfigured?: boolean;
  /** Look for a fixByRemove (dpkg passes canfixbyremove only from check_conflict and check_breaks). */
  readonly wantFix?: boolean;
}

export function depIsOk(run: Run, dep: Dep, opts: DepCheckOptions = {}): DepCheck {
  const owner = dep.owner;
  switch (owner.istobe) {
    case 'remove':
    case 'deconfigure':
      return { ok: true, why: '' };
    case 'normal':
      if (!ownerCounts(owner, dep)) return { ok: true, why: '' };
      break;
    default:
      break;
  }
  const head = ` ${describeRelation(run.arches, dep)}\n`;
  if (dep.type === 'conflicts' || dep.type === 'breaks') return conflictIsOk(run, dep, head, opts);
  return dependIsOk(run, dep, head, opts);
}

/** Only installed packages can be made dependency problems; unpacked ones only by what unpacking checks. */
function ownerCounts(owner: Pkg, dep: Dep): boolean {
  switch (owner.status) {
    case 'installed':
    case 'triggers-pending':
    case 'triggers-awaited':
      return true;
    case 'half-configured':
    case 'unpacked':
    case 'half-installed':
      return dep.type === 'pre-depends' || dep.type === 'conflicts' || dep.type === 'breaks';
    default:
      return false;
  }
}

function versionOk(bin: Bin, possi: Possi): boolean {
  return versionSatisfies(bin.version, possi);
}

function dependIsOk(run: Run, dep: Dep, head: string, opts: DepCheckOptions): DepCheck {
  const arches = run.arches;
  let why = head;
  // Like dpkg's linebuf, the last reason carries over to the next alternative: an alternative with no
  // candidate at all (none of a matching architecture) then gets no "is not installed" line of its own.
  let line = '';
  for (const possi of dep.possis) {
    for (const pkg of run.db.candidates(possi, 'by-istobe')) {
      const name = pkgLabel(arches, pkg);
      switch (pkg.istobe) {
        case 'remove':
          line = `  ${name} is to be removed.\n`;
          break;
        case 'deconfigure':
          line = `  ${name} is to be deconfigured.\n`;
          break;
        case 'install-new': {
          const bin = pkg.available ?? pkg.installed;
          if (versionOk(bin, possi)) return { ok: true, why: '' };
          line = `  ${pkgLabel(arches, pkg, bin)} is to be installed, but is version ${versionText(bin)}.\n`;
          break;
        }
        default:
          line = normalCandidate(pkg, possi, name, opts);
          if (line === OK) return { ok: true, why: '' };
          break;
      }
      why += line;
    }

    // Is it provided by the package being installed?
    for (const provider of run.db.dependedAvailable(possi.name)) {
      if (provider.dep.type !== 'provides' || !virtualSatisfied(possi, provider)) continue;
      if (provider.dep.owner.istobe === 'install-new') return { ok: true, why: '' };
    }
    // Or by one already on the system?
    for (const provider of run.db.dependedInstalled(possi.name)) {
      if (provider.dep.type !== 'provides' || !virtualSatisfied(possi, provider)) continue;
      const who = provider.dep.owner;
      const name = pkgLabel(arches, who);
      switch (who.istobe) {
        case 'install-new':
          // Its new record was looked at above; the Provides of the version it replaces do not count.
          continue;
        case 'remove':
          line = `  ${name} provides ${possi.name} but is to be removed.\n`;
          break;
        case 'deconfigure':
          line = `  ${name} provides ${possi.name} but is to be deconfigured.\n`;
          break;
        default:
          if (who.status === 'installed' || who.status === 'triggers-pending') return { ok: true, why: '' };
          line = `  ${name} provides ${possi.name} but is ${STATUS_WORDS[who.status]}.\n`;
          break;
      }
      why += line;
    }

    // Nothing said anything: not a real package, not provided.
    if (line === '') why += `  ${possi.name} is not installed.\n`;
  }
  return { ok: false, why };
}

const OK = '\u0000ok';

/** One candidate that nothing in this run touches; OK when it satisfies, else the line explaining why not. */
function normalCandidate(pkg: Pkg, possi: Possi, name: string, opts: DepCheckOptions): string {
  const bin = pkg.installed;
  switch (pkg.status) {
    case 'installed':
    case 'triggers-pending':
      if (versionOk(bin, possi)) return OK;
      return `  ${name} is installed, but is version ${versionText(bin)}.\n`;
    case 'not-installed':
      // Say nothing yet: it may be a virtual package, which the Provides loops decide.
      return '';
    case 'triggers-awaited':
    case 'unpacked':
    case 'half-configured':
      if (opts.allowUnconfigured) {
        if (!pkg.configVersion) return `  ${name} is unpacked, but has never been configured.\n`;
        if (!versionOk(bin, possi)) return `  ${name} is unpacked, but is version ${versionText(bin)}.\n`;
        if (!versionSatisfies(pkg.configVersion, possi)) {
          return `  ${name} latest configured version is ${formatVersion(pkg.configVersion)}.\n`;
        }
        return OK;
      }
      return `  ${name} is ${STATUS_WORDS[pkg.status]}.\n`;
    default:
      return `  ${name} is ${STATUS_WORDS[pkg.status]}.\n`;
  }
}

/**
 * Conflicts and Breaks: one alternative (dpkg allows no `|` in them), matched against the real package
 * and against whatever provides the name. A package conflicting with a name it provides itself means the
 * *other* providers, so its own set is skipped.
 */
function conflictIsOk(run: Run, dep: Dep, head: string, opts: DepCheckOptions): DepCheck {
  const arches = run.arches;
  const possi = dep.possis[0];
  const breaks = dep.type === 'breaks';
  let why = head;
  let conflicts = 0;
  let fix: Pkg | undefined;

  if (possi.name !== dep.owner.name) {
    for (const pkg of run.db.candidates(possi, 'by-istobe')) {
      if (pkg.istobe === 'remove') continue;
      if (pkg.istobe === 'install-new') {
        const bin = pkg.available ?? pkg.installed;
        if (!versionOk(bin, possi)) continue;
        why += `  ${pkgLabel(arches, pkg, bin)} (version ${versionText(bin)}) is to be installed.\n`;
        if (!opts.wantFix) return { ok: false, why };
        conflicts++;
        fix = pkg;
        continue;
      }
      if (pkg.istobe === 'deconfigure' && breaks) continue;
      if (!presentFor(pkg, breaks) || !versionOk(pkg.installed, possi)) continue;
      why += `  ${pkgLabel(arches, pkg)} (version ${versionText(pkg.installed)}) is present and ${STATUS_WORDS[pkg.status]}.\n`;
      if (!opts.wantFix) return { ok: false, why };
      conflicts++;
      fix = pkg;
    }
  }

  for (const provider of run.db.dependedAvailable(possi.name)) {
    if (provider.dep.type !== 'provides') continue;
    const who = provider.dep.owner;
    if (who.istobe !== 'install-new' || who.set === dep.owner.set) continue;
    if (!virtualSatisfied(possi, provider)) continue;
    why += `  ${pkgLabel(arches, who, who.available ?? who.installed)} provides ${possi.name} and is to be installed.\n`;
    // The package about to be installed cannot be removed to fix it.
    return { ok: false, why };
  }

  for (const provider of run.db.dependedInstalled(possi.name)) {
    if (provider.dep.type !== 'provides') continue;
    const who = provider.dep.owner;
    if (who.set === dep.owner.set || !virtualSatisfied(possi, provider)) continue;
    if (who.istobe === 'install-new' || who.istobe === 'remove') continue;
    if (who.istobe === 'deconfigure' && breaks) continue;
    if (!presentFor(who, breaks)) continue;
    why += `  ${pkgLabel(arches, who)} provides ${possi.name} and is present and ${STATUS_WORDS[who.status]}.\n`;
    if (!opts.wantFix) return { ok: false, why };
    conflicts++;
    fix = who;
  }

  if (conflicts === 0) return { ok: true, why: '' };
  return { ok: false, why, fixByRemove: conflicts > 1 ? undefined : fix };
}

/** Whether an instance's state makes it conflict: any unpacked state for Conflicts, configured for Breaks. */
function presentFor(pkg: Pkg, breaks: boolean): boolean {
  switch (pkg.status) {
    case 'not-installed':
    case 'config-files':
      return false;
    case 'half-installed':
    case 'unpacked':
    case 'half-configured':
      return !breaks;
    default:
      return true;
  }
}
