import type { RootPath } from '../fs/rootpath';

export type DiskType = 'absent' | 'file' | 'directory' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

/** What the root holds at one (resolved) path, as lstat saw it; gathered by the probe, read by pure checks. */
export interface DiskState {
  type: DiskType;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Nanoseconds since the epoch. */
  mtimeNs?: bigint;
  /** Inode change time, nanoseconds since the epoch: tells whether a file was touched since (laid-files.ts). */
  ctimeNs?: bigint;
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

/** One shared state for every absent path: absent is most paths of a fresh install, and never gains details. */
export const ABSENT: DiskState = Object.freeze({ type: 'absent' });
