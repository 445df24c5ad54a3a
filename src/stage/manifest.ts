import type { Paragraph } from '../control/paragraph';
import type { RootPath } from '../fs/rootpath';

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

/** Ownership and permissions as the archive declares them. */
export interface EntryMeta {
  /** Permission bits including setuid/setgid/sticky (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (fractional when a pax header gave more). */
  mtime: number;
}

/** One member of data.tar after the per-entry checks, with its content (if any) in the staging area. */
export interface ManifestEntry extends EntryMeta {
  /** The path as shipped, normalised (`usr/bin/x`). */
  path: RootPath;
  type: EntryType;
  size: number;
  /** Hex digests of regular file content. */
  sha256?: string;
  md5?: string;
  /** Symlink target, verbatim. */
  target?: string;
  /** For hard links: the shipped path of the earlier member it links to. */
  linkTo?: RootPath;
  devmajor?: number;
  devminor?: number;
  /** Host path of the staged content (regular files only). */
  staged?: string;
  conffile: boolean;
  /**
   * Set by rollback: the exact row to record for this path (the state before the rolled-back transaction,
   * conffile flags included). The entry is then placed as a plain file, without conffile rules.
   */
  restore?: import('../engine/model').InstalledFile;
}

/** One archive staged for a transaction. */
export interface StagedPackage {
  archive: string;
  name: string;
  version: string;
  architecture: string;
  control: Paragraph;
  controlText: string;
  /** Regular files of control.tar (scripts, md5sums, conffiles, ...) by name. */
  controlFiles: Map<string, Buffer>;
  /** Shipped paths of the conffiles this version declares. */
  conffiles: RootPath[];
  entries: ManifestEntry[];
  /** Sum of staged regular file sizes, for the space check. */
  bytes: number;
}
