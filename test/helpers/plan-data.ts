import { Paragraph } from '../../src/control/paragraph';
import { NO_CONFFILE_FORCES, type PlanInput } from '../../src/engine/plan-model';
import type { InstalledFile } from '../../src/model/package';
import type { ManifestEntry } from '../../src/model/entry';
import type { StagedPackage } from '../../src/model/staged-package';
import { Manifest } from '../../src/model/manifest';

/** Plain-data builders for planner tests: the planner is pure, so these are all it needs. */

export interface PackageOptions {
  version?: string;
  architecture?: string;
  /** Extra control fields (Replaces, ...). */
  control?: Record<string, string>;
}

export function stagedPackage(name: string, entries: ManifestEntry[], opts: PackageOptions = {}): StagedPackage {
  const version = opts.version ?? '1';
  return {
    archive: `${name}_${version}.deb`,
    name,
    version,
    architecture: opts.architecture ?? 'all',
    control: new Paragraph(Object.entries({ Package: name, Version: version, ...opts.control })),
    controlText: '',
    controlFiles: new Map(),
    conffiles: entries.filter((e) => e.conffile).map((e) => e.path),
    entries: Manifest.of(entries),
    bytes: 0,
  };
}

/** The database row an installed entry has. */
export function installedRow(e: ManifestEntry, extra: Partial<InstalledFile> = {}): InstalledFile {
  return {
    path: e.path,
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtime: e.mtime,
    sha256: e.sha256,
    md5: e.md5,
    target: e.type === 'hardlink' ? e.linkTo : e.target,
    conffile: e.conffile,
    conffileHash: e.conffile ? e.md5 : undefined,
    ...extra,
  };
}

/** A plan input with nothing in it but `over`. */
export function planInput(over: Partial<PlanInput>): PlanInput {
  return {
    installs: [],
    removals: [],
    disk: new Map(),
    owners: new Map(),
    ownedBeneath: new Map(),
    replaces: () => false,
    options: { forceOverwrite: false, conffiles: { forces: NO_CONFFILE_FORCES } },
    ...over,
  };
}
