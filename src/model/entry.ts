import { hostJoin, type HostPath } from '../fs/host-path';
import type { RootPath } from '../fs/rootpath';

/** What a member of data.tar, a row of the installed-files table and a step's entry can be. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block';

export const ENTRY_TYPES: readonly EntryType[] = ['file', 'directory', 'symlink', 'hardlink', 'fifo', 'char', 'block'];

const SHARED_TYPES = new Map<string, EntryType>(ENTRY_TYPES.map((t) => [t, t]));

/** The digests of empty content: many members of many packages (Debian's largest package: 116,010 of them). */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/**
 * The one string for type `t`. A database row brings its own copy of the word, and an installed package of
 * 116,010 files held as many copies of "file" (2.3 MiB) while it was upgraded.
 */
export function sharedEntryType(t: EntryType): EntryType {
  return SHARED_TYPES.get(t) ?? t;
}

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
  /**
   * Where staging wrote the content (regular files only): a folder of the staging area and the file's
   * name there, a number (what a manifest record holds); stagedContent() makes the host path.
   */
  stagedIn?: HostPath;
  stagedAs?: number;
  /**
   * No content comes with this file entry: it claims the file the root holds at its path as it is (a
   * rollback's file that its transaction never replaced). The planner leaves that file alone; a missing
   * one cannot be restored, and the check phase refuses the plan. On a symlink entry (a bootstrap's
   * claim, laid-files.ts): the root's symlink is left alone when it is the same link (target, owner, time);
   * anything else there is replaced as usual — a symlink needs no content.
   */
  claimsExisting?: boolean;
  /** Placed by dpkg's conffile rules (keep a locally modified file) rather than replaced outright. */
  conffile: boolean;
  /**
   * Kept out of the root by dpkg's path filters (--path-exclude): never staged nor placed, no digests, but
   * still the package's path, as dpkg records it (its `.list`, conflicts, file triggers).
   */
  filtered?: boolean;
}

/** The host path of an entry's staged content, if it has any. */
export function stagedContent(e: ManifestEntry): HostPath | undefined {
  return e.stagedIn === undefined ? undefined : hostJoin(e.stagedIn, String(e.stagedAs));
}


/** Digest `d` (hex, or none), with the digests of empty content as one shared string each. */
export function sharedDigest(d: string | null | undefined): string | undefined {
  if (d === EMPTY_SHA256) return EMPTY_SHA256;
  if (d === EMPTY_MD5) return EMPTY_MD5;
  return d ?? undefined;
}
