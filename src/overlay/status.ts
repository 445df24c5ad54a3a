import type { RootPath } from '../fs/rootpath';
import { mapLimited } from '../map-limited';
import type { Layers, OverlayMount } from './layers';
import type { OverlayFeatures } from './options';
import type { OverlayView, Where, WhereClass } from './where';

/**
 * `overlay status` as data: for each installed package, where each of its paths lives and what it holds in
 * the upper layer. The caller reads the database and makes the view; this module only asks the view and
 * adds up, so the CLI formats and tests check one plain object.
 */

export interface PackageFiles {
  name: string;
  architecture: string;
  version: string;
  status: string;
  paths: RootPath[];
}

/** How many of a package's paths are in each class, plus two refinements of them. */
export type Counts = Record<WhereClass, number> & {
  /** copied-up paths whose upper entry differs from the lower one. */
  changed: number;
  /** Paths shown from a metacopy file (metadata in the upper layer, data in a lower one). */
  metacopy: number;
};

export interface PackageStatus extends Omit<PackageFiles, 'paths'> {
  files: Where[];
  counts: Counts;
  /**
   * Bytes the package's non-directories take in the upper layer, each inode once. Directories are shared
   * between packages and left out.
   */
  upperBytes: number;
}

export interface StatusReport {
  root: string;
  overlay: {
    mountPoint: string;
    source: string;
    rootOffset: string;
    readOnly: boolean;
    layers: Layers;
    features: OverlayFeatures;
    defaultsFrom: OverlayMount['defaultsFrom'];
    unknownOptions: string[];
  };
  /** Largest upper-layer use first, then by name. */
  packages: PackageStatus[];
  /** overmerge's own database files inside the root, where they live. */
  database: Where[];
  totals: { packages: number; files: number; counts: Counts; upperBytes: number };
}

export function emptyCounts(): Counts {
  return { lower: 0, 'copied-up': 0, upper: 0, hidden: 0, absent: 0, changed: 0, metacopy: 0 };
}

export interface StatusInput {
  root: string;
  overlay: OverlayMount;
  layers: Layers;
  view: Pick<OverlayView, 'where'>;
  packages: PackageFiles[];
  /** overmerge's database files to report, as paths in the root (those outside it are left out by the caller). */
  database?: RootPath[];
  /** Paths asked about at once (the layers' lookups overlap; default 8). */
  concurrency?: number;
}

export async function overlayStatus(input: StatusInput): Promise<StatusReport> {
  const { overlay, layers, view } = input;
  const limit = input.concurrency ?? 8;
  const packages: PackageStatus[] = [];
  const totalCounts = emptyCounts();
  const counted = new Set<string>();
  let totalBytes = 0;
  let files = 0;
  for (const pkg of input.packages) {
    const wheres = await mapLimited(pkg.paths, limit, (p) => view.where(p));
    const counts = emptyCounts();
    const own = new Set<string>();
    let upperBytes = 0;
    for (const w of wheres) {
      tally(counts, w);
      tally(totalCounts, w);
      if (w.kind === 'directory' || w.upperInode === undefined) continue;
      if (!own.has(w.upperInode)) {
        own.add(w.upperInode);
        upperBytes += w.upperBytes;
      }
      if (!counted.has(w.upperInode)) {
        counted.add(w.upperInode);
        totalBytes += w.upperBytes;
      }
    }
    files += wheres.length;
    const { paths: _paths, ...ref } = pkg;
    packages.push({ ...ref, files: wheres, counts, upperBytes });
  }
  packages.sort((a, b) => b.upperBytes - a.upperBytes || a.name.localeCompare(b.name) || a.architecture.localeCompare(b.architecture));
  const database = (await Promise.all((input.database ?? []).map((p) => view.where(p)))).filter((w) => w.class !== 'absent');
  return {
    root: input.root,
    overlay: {
      mountPoint: overlay.mountPoint,
      source: overlay.source,
      rootOffset: overlay.rootOffset,
      readOnly: overlay.readOnly,
      layers,
      features: overlay.options.features,
      defaultsFrom: overlay.defaultsFrom,
      unknownOptions: overlay.options.unknown,
    },
    packages,
    database,
    totals: { packages: packages.length, files, counts: totalCounts, upperBytes: totalBytes },
  };
}

function tally(c: Counts, w: Where): void {
  c[w.class]++;
  if (w.class === 'copied-up' && w.same === false) c.changed++;
  if (w.metacopy) c.metacopy++;
}
