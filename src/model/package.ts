import type { RootPath } from '../fs/rootpath';
import type { EntryType } from './entry';

/** A package version, as names in messages and the planner's bookkeeping use it. */
export interface PackageRef {
  name: string;
  architecture: string;
  version: string;
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
  /** Symlink target, or the root path a hard link points to. */
  target?: string;
  devmajor?: number;
  devminor?: number;
  conffile: boolean;
  /** md5 of the conffile as the package last distributed it (dpkg's recorded conffile hash). */
  conffileHash?: string;
}

/**
 * An installed package's file rows, as the planner and the phases around it read them: in order, by index,
 * or through a PathIndex. A plain array is one; the probe hands out InstalledFiles (records).
 */
export interface InstalledFileList extends Iterable<InstalledFile> {
  readonly length: number;
  at(index: number): InstalledFile | undefined;
  map<T>(fn: (f: InstalledFile, index: number) => T): T[];
  filter(fn: (f: InstalledFile, index: number) => boolean): InstalledFile[];
  some(fn: (f: InstalledFile, index: number) => boolean): boolean;
}

export interface InstalledPackage extends PackageRef {
  status: string;
  /** The control paragraph's text (kept in rollback snapshots). */
  control?: string;
  /** Only loaded for the packages a transaction touches (from the database: InstalledFiles, records). */
  files: InstalledFileList;
}

/** A package that owns a path, and as what. */
export interface Owner extends PackageRef {
  type: EntryType;
}

export type ChangeAction =
  | 'install'
  | 'upgrade'
  | 'downgrade'
  | 'reinstall'
  | 'remove'
  | 'purge'
  | 'configure'
  | 'deconfigure'
  | 'disappear'
  | 'trigger';

/** What a transaction did to one package (history). */
export interface PackageChange {
  name: string;
  architecture: string;
  action: ChangeAction;
  oldVersion?: string;
  newVersion?: string;
}

export function refOf(p: PackageRef): PackageRef {
  return { name: p.name, architecture: p.architecture, version: p.version };
}
