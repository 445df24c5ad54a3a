import type { DeconfigureReason, PackageRef, RelationsPlan } from '../../dpkg/relations';

/**
 * What a relations plan asks of the transaction beyond the archives' own files, read off its steps. Pure.
 *
 * For each archive unpacked: the packages deconfigured before it (Breaks with --auto-deconfigure, or
 * another architecture of a Multi-Arch: same package left at the old version), the conflictors removed in
 * favour of it (Conflicts + Replaces), and the packages that disappear because it took over all their
 * files. For the whole plan: the order of unpacks, configurations and removals.
 */
export interface ArchiveEffects {
  readonly pkg: PackageRef;
  readonly deconfigure: ReadonlyArray<{ readonly pkg: PackageRef; readonly reason: DeconfigureReason; readonly removing?: PackageRef }>;
  readonly conflictors: readonly PackageRef[];
  readonly disappear: readonly PackageRef[];
}

export interface RelationEffects {
  /** In unpack order. */
  readonly archives: readonly ArchiveEffects[];
  readonly configureOrder: readonly PackageRef[];
  /** Removals the request asked for (not conflictors), in the order dpkg removes them: dependers first. */
  readonly removeOrder: readonly PackageRef[];
}

export const refKey = (r: { name: string; architecture: string }): string => `${r.name}:${r.architecture}`;

export function effectsOf(plan: RelationsPlan): RelationEffects {
  const archives: ArchiveEffects[] = [];
  const byKey = new Map<string, { pkg: PackageRef; deconfigure: ArchiveEffects['deconfigure'][number][]; conflictors: PackageRef[]; disappear: PackageRef[] }>();
  const entry = (pkg: PackageRef) => {
    let e = byKey.get(refKey(pkg));
    if (!e) {
      e = { pkg, deconfigure: [], conflictors: [], disappear: [] };
      byKey.set(refKey(pkg), e);
    }
    return e;
  };
  const configureOrder: PackageRef[] = [];
  const removeOrder: PackageRef[] = [];
  for (const s of plan.steps) {
    switch (s.op) {
      case 'deconfigure':
        // The deconfiguration comes before its unpack step, which names the package it was for.
        entry(s.inFavourOf).deconfigure.push({ pkg: s.pkg, reason: s.reason, ...(s.removing ? { removing: s.removing } : {}) });
        break;
      case 'unpack': {
        const e = entry(s.pkg);
        e.pkg = s.pkg;
        archives.push(e);
        break;
      }
      case 'disappear':
        entry(s.inFavourOf).disappear.push(s.pkg);
        break;
      case 'remove':
        if (s.inFavourOf) entry(s.inFavourOf).conflictors.push(s.pkg);
        else removeOrder.push(s.pkg);
        break;
      case 'configure':
        configureOrder.push(s.pkg);
        break;
    }
  }
  return { archives, configureOrder, removeOrder };
}
