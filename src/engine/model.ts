import type { RootPath } from '../fs/rootpath';
import type { EntryMeta, EntryType, ManifestEntry, StagedPackage } from '../stage/manifest';

/**
 * The data the planner works on. Everything here is gathered by `probe` (I/O) before planning, so that
 * `plan` itself is a pure function that tests can drive with plain objects.
 */

export type DiskType = 'absent' | 'file' | 'directory' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** What the root holds at one (resolved) path, as lstat saw it. */
export interface DiskState {
  type: DiskType;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Nanoseconds since the epoch. */
  mtimeNs?: bigint;
  /** Inode number: tells whether two paths are still one hard-linked file. */
  ino?: bigint;
  /** Symlink target, verbatim. */
  target?: string;
  /** A symlink whose target, resolved inside the root, is a directory. */
  targetIsDir?: boolean;
  /** Content digest, computed only where the plan needs it (conffiles). */
  md5?: string;
  /** For a directory that may be removed: its direct children (it goes only if they all go first). */
  children?: RootPath[];
  /** For a directory a file may replace: every path beneath, recursively (all must be the package's own). */
  beneath?: RootPath[];
}

/** One row of the installed-files table as the planner sees it (paths are resolved locations). */
export interface InstalledFile {
  path: RootPath;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  sha256?: string;
  md5?: string;
  target?: string;
  devmajor?: number;
  devminor?: number;
  conffile: boolean;
  /** md5 of the conffile as the package last distributed it (dpkg's recorded conffile hash). */
  conffileHash?: string;
}

export interface PackageRef {
  name: string;
  architecture: string;
  version: string;
}

export interface InstalledPackage extends PackageRef {
  status: string;
  /** The control paragraph's text (kept in rollback snapshots). */
  control?: string;
  /** Only loaded for the packages this transaction touches. */
  files: InstalledFile[];
}

/** A package that owns a path the transaction wants, and how it owns it. */
export interface Owner extends PackageRef {
  type: EntryType;
}

export interface InstallRequest {
  staged: StagedPackage;
  /**
   * Where a shipped path lands once directory symlinks the root already has are followed — only for paths
   * that land elsewhere; read it as `resolved.get(p) ?? p`.
   */
  resolved: Map<RootPath, RootPath>;
  /** The installed version of the same package, if any. */
  old?: InstalledPackage;
  /** Status to record: `unpacked` for `unpack`, `installed` for `install`; a rollback restores any. */
  status: string;
}

export interface RemoveRequest {
  pkg: InstalledPackage;
  purge: boolean;
}

export type ConffilePolicy = 'default' | 'new' | 'old';

export interface PlanOptions {
  forceOverwrite: boolean;
  conffiles: ConffilePolicy;
}

export interface PlanInput {
  installs: InstallRequest[];
  removals: RemoveRequest[];
  /** lstat of every path the plan may touch (resolved locations). Missing keys mean absent. */
  disk: Map<RootPath, DiskState>;
  /** Packages outside this transaction's own packages that own each wanted path. */
  owners: Map<RootPath, Owner[]>;
  /** For directories the plan may remove or replace: packages outside the transaction owning something beneath. */
  ownedBeneath: Map<RootPath, Owner[]>;
  /** Unowned paths to remove (files a rolled-back transaction created beside conffiles). */
  extraRemovals?: RootPath[];
  /** Whether a package being installed declares Replaces on an owner (pure; computed from control data). */
  replaces: (staged: StagedPackage, owner: PackageRef) => boolean;
  options: PlanOptions;
}

/**
 * One filesystem step. `aside` says what happens to whatever is at the path first:
 * - 'none': nothing is there;
 * - 'link': a non-directory is there; keep a hard-linked backup and replace it atomically by rename, so the
 *   path never disappears (a running system keeps finding /usr/lib/x);
 * - 'move': it is moved aside as a whole (a directory replaced by a non-directory, or anything replaced by a
 *   directory) — the step that needs the copy fallback on overlayfs.
 */
export type Aside = 'none' | 'link' | 'move';

export type Step =
  | { kind: 'mkdir'; path: RootPath; meta: EntryMeta; aside: Aside }
  | { kind: 'place'; path: RootPath; entry: ManifestEntry; aside: Aside; linkTo?: RootPath }
  | { kind: 'remove'; path: RootPath; directory: boolean };

/** The rows the commit writes for one package. */
export interface PackageRecord {
  staged?: StagedPackage;
  ref: PackageRef;
  status: string;
  files: InstalledFile[];
}

export type ChangeAction = 'install' | 'upgrade' | 'downgrade' | 'reinstall' | 'remove' | 'purge';

export interface PackageChange {
  name: string;
  architecture: string;
  action: ChangeAction;
  oldVersion?: string;
  newVersion?: string;
}

export interface Plan {
  steps: Step[];
  /** Packages whose rows are rewritten (files replaced wholesale). */
  records: PackageRecord[];
  /** Packages whose rows are deleted entirely. */
  deleted: PackageRef[];
  /** Paths whose ownership moves away from another package (Replaces, --force-overwrite). */
  disowned: Array<{ owner: PackageRef; path: RootPath }>;
  changes: PackageChange[];
  /** Things the user should hear about that are not errors (a kept conffile, a directory left behind). */
  notices: string[];
  /** Bytes the steps will write, for the space check. */
  bytes: number;
}
