import { compareVersions } from '../../control/version';
import type { FileRow } from '../../db/types';
import { recordedRootPath, type RootPath } from '../../fs/rootpath';
import { packageKey, type PackageRecord, type PackageSet } from './facts';

/**
 * Which database row each package gets after a reconcile: the new image's, or the one the upper layer
 * had, decided by version alone (the files' part of the decision, for packages the image lacks, is in
 * plan.ts). Pure.
 *
 * - image-only: the image has it, the upper database did not (new in the image, or removed on the live
 *   system: the image decides what is installed, so it comes back);
 * - image-newer / image-same: both have it and the image's version is newer or the same: the image's rows,
 *   and the upper layer's copies of the package's files go (an upgrade the image now ships);
 * - image-over-unfinished: the upper's row is not an installed package (config-files, unpacked, ...) and
 *   the image has one: the image's;
 * - upper-newer: the upper's version is newer: kept, files and all;
 * - upper-only: the image lacks it: kept, unless plan.ts finds it was the old image's own (see `dropped`).
 */
export type Verdict = 'image-only' | 'image-newer' | 'image-same' | 'image-over-unfinished' | 'upper-newer' | 'upper-only';

export interface VersionDecision {
  key: string;
  name: string;
  architecture: string;
  verdict: Verdict;
  upper?: PackageRecord;
  image?: PackageRecord;
}

export function decideByVersion(upperDb: PackageSet | undefined, imageDb: PackageSet | undefined): VersionDecision[] {
  const keys = new Set([...(upperDb?.keys() ?? []), ...(imageDb?.keys() ?? [])]);
  const out: VersionDecision[] = [];
  for (const key of [...keys].sort()) {
    const upper = upperDb?.get(key);
    const image = imageDb?.get(key);
    const ref = (upper ?? image)!;
    out.push({ key, name: ref.name, architecture: ref.architecture, verdict: verdictOf(upper, image), upper, image });
  }
  return out;
}

function verdictOf(upper: PackageRecord | undefined, image: PackageRecord | undefined): Verdict {
  if (!upper) return 'image-only';
  if (!image) return 'upper-only';
  if (upper.status !== 'installed' && upper.status !== 'triggers-pending' && upper.status !== 'triggers-awaited') return 'image-over-unfinished';
  const c = compareVersions(upper.version, image.version);
  if (c > 0) return 'upper-newer';
  return c === 0 ? 'image-same' : 'image-newer';
}

export function fromImage(v: Verdict): boolean {
  return v === 'image-only' || v === 'image-newer' || v === 'image-same' || v === 'image-over-unfinished';
}

/** One package's row for one path. */
export interface Owning {
  key: string;
  row: FileRow;
}

/** Who owns each path in a set of packages. */
export type Ownership = ReadonlyMap<RootPath, readonly Owning[]>;

export function ownershipOf(packages: Iterable<PackageRecord>): Ownership {
  const out = new Map<RootPath, Owning[]>();
  for (const p of packages) {
    const key = packageKey(p);
    for (const row of p.files) {
      const path = recordedRootPath(row.path);
      const list = out.get(path);
      if (list) list.push({ key, row });
      else out.set(path, [{ key, row }]);
    }
  }
  return out;
}

/** The owners of `p` that own it as something other than a directory (directories are shared). */
export function nonDirectoryOwners(o: Ownership, p: RootPath): readonly Owning[] {
  return (o.get(p) ?? []).filter((x) => x.row.type !== 'directory');
}
