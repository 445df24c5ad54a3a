import { planRelations } from '../dpkg/relations/plan';
import type { ArchiveItem, InstalledPackage, MultiArch, PackageData } from '../dpkg/relations/types';
import type { SetPackage } from './package-set';

/**
 * The order in which one group's packages are handed to the engine: dpkg's configuration order for
 * `dpkg --install --force-depends` of the group over what is installed already, as the relations
 * planner (src/dpkg/relations) computes it — deferred configuration, pre-dependencies first, cycles
 * broken where dpkg breaks them. The engine runs each archive's postinst in the order it was given, so
 * this is the order the postinsts run in. Pure.
 *
 * --force-depends as debootstrap and mmdebstrap use it for the Essential set: the bootstrap installs what
 * the set holds, and whether the set is complete is the engine's relation check to say, not the order's.
 */
export interface GroupOrder {
  packages: SetPackage[];
  /** Where dpkg would break a dependency cycle, one line each (said in the bootstrap's output). */
  cycleBreaks: string[];
}

export function configureOrder(group: readonly SetPackage[], installed: readonly SetPackage[], nativeArch: string): GroupOrder {
  if (group.length <= 1) return { packages: [...group], cycleBreaks: [] };
  const items = installItems(group);
  const before: InstalledPackage[] = installed.map((p) => ({ ...dataOf(p), status: 'installed' }));
  const plan = planRelations({ items, installed: before, nativeArch, force: ['depends', 'depends-version', 'breaks', 'conflicts'] });
  const byName = new Map(group.map((p) => [p.name, p]));
  const ordered: SetPackage[] = [];
  for (const step of plan.steps) {
    if (step.op !== 'configure') continue;
    const p = byName.get(step.pkg.name);
    if (p && !ordered.includes(p)) ordered.push(p);
  }
  // Anything the planner did not configure (it would have refused it) keeps its place at the end: the
  // engine's own checks decide about it.
  for (const p of group) if (!ordered.includes(p)) ordered.push(p);
  return { packages: ordered, cycleBreaks: plan.cycleBreaks.map((c) => c.message) };
}

/** The group as the items of one `dpkg --install` call, for the relations planner. Pure. */
export function installItems(group: readonly SetPackage[]): ArchiveItem[] {
  return group.map((p) => ({ action: 'install', package: dataOf(p) }));
}

function dataOf(p: SetPackage): PackageData {
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    multiArch: multiArchOf(p.fields.multiArch),
    essential: p.essential,
    preDepends: p.fields.preDepends,
    depends: p.fields.depends,
    breaks: p.fields.breaks,
    conflicts: p.fields.conflicts,
    replaces: p.fields.replaces,
    provides: p.fields.provides,
    fieldOrder: p.fields.order,
    hasPostinst: p.hasPostinst,
    archive: p.archive,
  };
}

function multiArchOf(v: string | undefined): MultiArch | undefined {
  const m = v?.toLowerCase();
  return m === 'same' || m === 'foreign' || m === 'allowed' || m === 'no' ? m : undefined;
}
