import type { FileRow } from '../../db/types';
import type { ByteString } from '../../dpkg/bytes';
import type { PkgEntry } from '../../dpkg/model';
import type { RootPath } from '../../fs/rootpath';
import type { EntryKind } from '../layer-entry';
import type { OriginFacts } from './origin';

/**
 * What `overlay reconcile` reads before it decides anything, as plain data: the upper layer entry by entry
 * (with the overlay attributes the merged view hides), the new lower layers at the paths that matter, and
 * the two overmerge databases. gather.ts reads them; plan.ts decides from them without any I/O, so the
 * decisions are tested with data made by hand.
 */

/** Metadata two entries are compared by (an upper copy is redundant when all of it equals the lower's). */
export interface EntryMetadata {
  kind: EntryKind;
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Nanoseconds, as a decimal string (bigint in JSON). Not compared for directories. */
  mtimeNs: string;
  /** Device number of a character or block device. */
  rdev: number;
  /** A symlink's target. */
  target?: string;
  /** A regular file's content, when it was read (gather hashes only what a decision needs). */
  sha256?: string;
  md5?: string;
  /** Extended attributes other than overlayfs' own: name → hex value. */
  xattrs: Record<string, string>;
}

/** One entry of the upper layer. */
export interface UpperEntry extends EntryMetadata {
  path: RootPath;
  /** A whiteout (a 0/0 character device, or an `overlay.whiteout` file in an `opaque=x` directory). */
  whiteout: boolean;
  /** The directory's `overlay.opaque`: 'y' (hides the lower), 'x' (holds alternative whiteouts). */
  opaque?: 'y' | 'x';
  /** `overlay.redirect`: a renamed directory (redirect_dir=on) or a renamed metacopy file. */
  redirect?: string;
  /** `overlay.metacopy`: the file holds metadata only; its data is a lower file's. */
  metacopy: boolean;
  origin?: OriginFacts;
  /** Other overlay attributes present (impure, nlink, uuid, ...), by name without the prefix. */
  otherOverlayAttrs: string[];
  /** Bytes it takes in the upper layer (st_blocks × 512). */
  bytes: number;
  /** `dev:ino`, so hard links are counted once. */
  inode: string;
  nlink: number;
}

/** What the new lower layers show at a path (the topmost lower layer that has it, whiteouts applied). */
export interface LowerEntry extends EntryMetadata {
  path: RootPath;
  /** Its inode number in its layer (what a current origin handle names). */
  ino: number;
  /** Which lower layer it comes from (0 is the topmost). */
  layer: number;
}

/** One package as an overmerge database records it, with its files. */
export interface PackageRecord {
  name: string;
  architecture: string;
  version: string;
  status: string;
  control: string;
  installedSize: number | null;
  files: FileRow[];
  /** A package of dpkg's database (dpkg-gather.ts), not overmerge's. */
  db?: 'dpkg';
}

/** A database's packages by `name:architecture`. */
export type PackageSet = ReadonlyMap<string, PackageRecord>;

export function packageKey(p: Pick<PackageRecord, 'name' | 'architecture' | 'db'>): string {
  return p.db === 'dpkg' ? dpkgKey(p.name, p.architecture) : `${p.name}:${p.architecture}`;
}

/** dpkg's packages are keyed apart from overmerge's: the two databases may both know a name. */
export function dpkgKey(name: string, arch: string): string {
  return `dpkg:${name}:${arch}`;
}

/** dpkg's database in the layers (dpkg-gather.ts), when the upper layer has a status file. */
export interface DpkgFacts {
  /** Packages the live system installed or upgraded (their `.list` is in the upper layer). */
  upper: PackageSet;
  /** Every package of the new image's status. */
  image: PackageSet;
  /** The stanzas of the upper layer's status and of the image's, for the new status file. */
  upperStatus: readonly PkgEntry[];
  imageStatus: readonly PkgEntry[];
  /** The status files as read. */
  upperStatusText: ByteString;
  imageStatusText?: ByteString;
  nativeArch: string;
}

export interface ReconcileFacts {
  /** Every entry of the upper layer, parents before children. */
  upper: readonly UpperEntry[];
  /** The new lower at the paths pathsToAsk named; a path missing here has nothing in the lower. */
  lower: ReadonlyMap<RootPath, LowerEntry>;
  /** Names in the new lower's directories that dirsToList named. */
  lowerChildren: ReadonlyMap<RootPath, readonly string[]>;
  /** overmerge's database as the upper layer has it (the one that was live); undefined: none there. */
  upperDb?: PackageSet;
  /** The new image's overmerge database, in the new lower; undefined: none there. */
  imageDb?: PackageSet;
  /** Paths the planner leaves alone whatever they hold: overmerge's own files (database, lock, staging). */
  leaveAlone: readonly RootPath[];
  dpkg?: DpkgFacts;
}
