import { ancestorsOf, type RootPath } from '../fs/rootpath';
import { renamesLowerDirectories, type RedirectDir } from './options';
import type { Where } from './where';

/**
 * How many bytes a transaction will write into an overlay's upper layer, at its peak: before the finish
 * phase lets go of backups and empties staging. Pure: the caller gathers the facts (upper-probe.ts) and
 * compares the answer with the upper filesystem's free space (free-space.ts).
 *
 * Where the bytes come from, beyond the new files themselves:
 * - copy-up: a hard-link backup of a file only a lower layer has (the 'link' aside), or a rename of one
 *   (a removal, a 'move' aside, a rename step), first copies it into the upper layer — all of its data, or none with
 *   metacopy=on (overlayfs then copies metadata and leaves the data below);
 * - directory copy-up: anything created in a directory only a lower layer has copies that directory up
 *   (without its contents), and its ancestors likewise;
 * - copy-aside: a directory from a lower layer cannot be renamed (EXDEV) unless redirect_dir=on, so
 *   moving it aside copies its whole tree, as the merged view shows it, beside it;
 * - whiteouts: a name removed while a lower layer has it leaves a whiteout (an inode, no data);
 * - the database: a database file only a lower layer has is copied up whole at the first write; then
 *   the transaction's rows and journal grow it and its write-ahead log.
 * Files take whole blocks of the upper filesystem, so every size is rounded up to its block size.
 */

/** What happens to what is at a step's path first (the engine's Aside). */
export type UpperAside = 'none' | 'link' | 'move';

/**
 * A step as the estimate reads it: the shape of the engine's planned path steps (plan-model.ts PathStep),
 * reduced to what costs upper-layer space. A plan's steps are passed as plan-steps.ts reads them (stepsOf).
 */
export type UpperStep =
  | { kind: 'mkdir'; path: RootPath; aside: UpperAside }
  | { kind: 'place-file'; path: RootPath; aside: UpperAside; entry: { size: number } }
  | { kind: 'place-special'; path: RootPath; aside: UpperAside; entry: { type: string; target?: string } }
  | { kind: 'rename'; from: RootPath; path: RootPath; aside: UpperAside }
  | { kind: 'remove'; path: RootPath }
  | { kind: 'rmdir'; path: RootPath };

/** What the estimate needs to know of a path (a Where has it all). */
export type PathFacts = Pick<Where, 'class' | 'kind' | 'size' | 'metacopy' | 'opaque'>;

/** What a copy of a tree writes: its files' blocks and its directories, and how many entries (inodes). */
export interface TreeUsage {
  bytes: number;
  entries: number;
}

export interface UpperSpaceInput {
  steps: Iterable<UpperStep>;
  /** Facts of the paths pathsToAsk(steps) names, as they are before the transaction; a missing one is absent. */
  where: ReadonlyMap<RootPath, PathFacts>;
  /** Usage of each tree movedTrees() names (the EXDEV copy fallback writes all of it). */
  trees?: ReadonlyMap<RootPath, TreeUsage>;
  features: { metacopy: boolean; redirectDir: RedirectDir };
  placement: {
    mode: 'rename' | 'copy' | 'hardlink';
    /** Staging is inside the root, hence in the upper layer (overmerge's default). */
    stagingInUpper: boolean;
    /**
     * Staging is outside the root but on the upper layer's filesystem (--staging there): its bytes count
     * as well, and placing copies them (overlayfs renames nothing in from outside the overlay).
     */
    stagingBesideUpper?: boolean;
  };
  /** overmerge's database, when it lives on the overlay: where its file is, and how much the transaction adds. */
  database?: DatabaseFacts;
  /** More databases on the overlay (dpkg's: its status file stands for it), each as `database`. */
  databases?: readonly DatabaseFacts[];
  /** The upper filesystem's block size (statfs f_bsize). */
  blockSize: number;
  /** What a new directory takes: one block on ext4 (the default); small directories on tmpfs or xfs take none. */
  directoryBytes?: number;
}

/** A database file on the overlay: where it is, and what the transaction adds to it (and beside it). */
export interface DatabaseFacts {
  /** The file in the root ('' when it is not in the root but on the upper layer's filesystem). */
  path?: RootPath;
  where: PathFacts;
  growth: number;
}

export type UpperCause =
  | 'staged-file'
  | 'new-file'
  | 'new-directory'
  | 'new-special'
  | 'copy-up'
  | 'copy-aside'
  | 'directory-copy-up'
  | 'whiteout'
  | 'database-copy-up'
  | 'database-growth';

export interface UpperSpaceItem {
  path: RootPath;
  cause: UpperCause;
  bytes: number;
  inodes: number;
}

export interface UpperSpaceEstimate {
  /** Bytes written into the upper layer, at the transaction's peak. */
  bytes: number;
  /** Inodes made in the upper layer (tmpfs and ext4 can run out of these first). */
  inodes: number;
  /**
   * Of `bytes`, what staging writes. With staging in the upper layer it is written before planning: a check
   * made after the plan subtracts it (it is already used), one made before staging does not.
   */
  staging: number;
  /** Directories moved aside by copying whose tree usage was not given: the estimate is short by their trees. */
  unknownTrees: RootPath[];
  items: UpperSpaceItem[];
}

const ABSENT: PathFacts = { class: 'absent' };

/** The paths whose facts the estimate reads: every step's path and its ancestors, shallow first. */
export function pathsToAsk(steps: Iterable<UpperStep>): RootPath[] {
  const out = new Set<RootPath>();
  for (const s of steps) {
    for (const p of s.kind === 'rename' ? [s.from, s.path] : [s.path]) {
      for (const a of [...ancestorsOf(p)].reverse()) if (a !== '') out.add(a);
      out.add(p);
    }
  }
  return [...out];
}

/** The directories a step moves aside by the copy fallback: their tree usage is needed (TreeUsage). */
export function movedTrees(steps: Iterable<UpperStep>, where: ReadonlyMap<RootPath, PathFacts>, features: { redirectDir: RedirectDir }): RootPath[] {
  const out: RootPath[] = [];
  for (const s of steps) {
    if (asideOf(s) === 'move' && copiedAside(where.get(s.path) ?? ABSENT, features)) out.push(s.path);
    if (s.kind === 'rename' && copiedAside(where.get(s.from) ?? ABSENT, features)) out.push(s.from);
  }
  return out;
}

function asideOf(s: UpperStep): UpperAside {
  return s.kind === 'remove' ? 'move' : s.kind === 'rmdir' ? 'none' : s.aside;
}

/** A directory that overlayfs will not rename (it is a lower one, or merges one), so overmerge copies it. */
function copiedAside(f: PathFacts, features: { redirectDir: RedirectDir }): boolean {
  if (f.kind !== 'directory') return false;
  const merges = f.class === 'lower' || (f.class === 'copied-up' && !f.opaque);
  return merges && !renamesLowerDirectories({ redirectDir: { value: features.redirectDir, source: 'default' } });
}

export function estimateUpperSpace(input: UpperSpaceInput): UpperSpaceEstimate {
  const block = input.blockSize;
  const dirBytes = input.directoryBytes ?? block;
  const round = (n: number): number => (n <= 0 ? 0 : Math.ceil(n / block) * block);
  const facts = (p: RootPath): PathFacts => input.where.get(p) ?? ABSENT;
  const items: UpperSpaceItem[] = [];
  const unknownTrees: RootPath[] = [];
  const add = (path: RootPath, cause: UpperCause, bytes: number, inodes: number): void => {
    if (bytes > 0 || inodes > 0) items.push({ path, cause, bytes, inodes });
  };
  const inUpper = new Set<RootPath>(['' as RootPath]);

  /** Everything made in a directory needs the directory (and its ancestors) in the upper layer first. */
  const needParents = (p: RootPath): void => {
    for (const a of [...ancestorsOf(p)].reverse()) {
      if (inUpper.has(a)) continue;
      inUpper.add(a);
      if (facts(a).class === 'lower') add(a, 'directory-copy-up', dirBytes, 1);
    }
  };

  const copyUp = (p: RootPath, f: PathFacts): void => {
    const data = f.kind === 'file' && !input.features.metacopy ? round(f.size ?? 0) : 0;
    add(p, 'copy-up', data, 1);
  };

  /** A hard link keeps the old entry where it is: only a lower one costs (its copy-up). */
  const linkAside = (p: RootPath, f: PathFacts): void => {
    if (f.class === 'lower') copyUp(p, f);
  };

  /** A rename (or the copy fallback) takes the old entry away; a lower one beneath leaves a whiteout. */
  const moveAside = (p: RootPath, f: PathFacts): void => {
    if (f.class === 'absent' || f.class === 'hidden') return;
    const lowerBeneath = f.class === 'lower' || f.class === 'copied-up';
    if (f.kind === 'directory') {
      if (copiedAside(f, input.features)) {
        const tree = input.trees?.get(p);
        if (tree) add(p, 'copy-aside', tree.bytes, tree.entries);
        else unknownTrees.push(p);
      } else if (f.class === 'lower' || (f.class === 'copied-up' && !f.opaque)) {
        // redirect_dir=on: the directory itself is copied up and renamed, its contents stay below.
        add(p, 'directory-copy-up', dirBytes, 1);
      }
    } else if (f.class === 'lower') {
      copyUp(p, f);
    }
    if (lowerBeneath) add(p, 'whiteout', 0, 1);
  };

  const aside = (p: RootPath, a: UpperAside): void => {
    if (a === 'link') linkAside(p, facts(p));
    else if (a === 'move') moveAside(p, facts(p));
  };

  let staging = 0;
  for (const s of input.steps) {
    needParents(s.path);
    switch (s.kind) {
      case 'mkdir':
        aside(s.path, s.aside);
        add(s.path, 'new-directory', dirBytes, 1);
        inUpper.add(s.path);
        break;
      case 'place-file': {
        aside(s.path, s.aside);
        const bytes = round(s.entry.size);
        if (input.placement.stagingInUpper || input.placement.stagingBesideUpper) {
          add(s.path, 'staged-file', bytes, 1);
          staging += bytes;
        }
        // rename and hardlink hand the staged inode over; a copy (or staging elsewhere) writes the data again.
        if (!input.placement.stagingInUpper || input.placement.mode === 'copy') add(s.path, 'new-file', bytes, 1);
        break;
      }
      case 'place-special': {
        aside(s.path, s.aside);
        const e = s.entry;
        if (e.type === 'hardlink') break;
        // ext4 keeps a symlink target shorter than 60 bytes in the inode; a longer one takes a block.
        add(s.path, 'new-special', e.type === 'symlink' && Buffer.byteLength(e.target ?? '') >= 60 ? block : 0, 1);
        break;
      }
      case 'rename':
        // The entry at `from` leaves its name as a removal's backup does: a lower one is copied up first.
        aside(s.path, s.aside);
        needParents(s.from);
        moveAside(s.from, facts(s.from));
        break;
      case 'remove':
        moveAside(s.path, facts(s.path));
        break;
      case 'rmdir': {
        const f = facts(s.path);
        if (f.class === 'lower' || f.class === 'copied-up') add(s.path, 'whiteout', 0, 1);
        break;
      }
    }
  }
  for (const d of [...(input.database ? [input.database] : []), ...(input.databases ?? [])]) {
    const at = d.path ?? ('' as RootPath);
    if (d.where.class === 'lower') add(at, 'database-copy-up', round(d.where.size ?? 0), 1);
    add(at, 'database-growth', round(d.growth), 0);
  }
  return {
    bytes: items.reduce((n, i) => n + i.bytes, 0),
    inodes: items.reduce((n, i) => n + i.inodes, 0),
    staging,
    unknownTrees,
    items,
  };
}

/**
 * What a transaction adds to overmerge's SQLite database and its write-ahead log, generously: each journal
 * intent (a few hundred bytes of JSON naming host paths) and each file row with its index entries is
 * written to the log, then to the database at a checkpoint, and pages are rewritten whole; plus a few
 * pages of fixed cost (the transaction's row, the commit record, the log header).
 */
export function databaseGrowth(counts: { steps: number; fileRows: number }, pageSize = 4096): number {
  const rowBytes = counts.steps * 600 + counts.fileRows * 400;
  return pageSize * (16 + 3 * Math.ceil(rowBytes / pageSize));
}

/**
 * What a transaction adds to dpkg's database (an admin folder in the root), generously, for each package
 * it installs or removes: its state changes as update entries (one small file each, about six per
 * package), its control area (in tmp.ci) and new info files (the .list of its paths, md5sums, scripts and
 * the like), a bigger status file at the checkpoint. The checkpoint keeps status-old as a hard link of the
 * old status: a status only a lower layer has is copied up by that link — the copy-up the caller counts as
 * the file's own (DatabaseFacts.where).
 */
export function dpkgDatabaseGrowth(
  packages: ReadonlyArray<{ paths: readonly string[]; controlBytes: readonly number[] }>,
  statusBytes: number,
  blockSize: number,
): number {
  const round = (n: number): number => (n <= 0 ? 0 : Math.ceil(n / blockSize) * blockSize);
  let bytes = round(statusBytes + packages.length * 4096);
  for (const p of packages) {
    const listBytes = p.paths.reduce((n, x) => n + Buffer.byteLength(x) + 2, 0);
    const md5Bytes = p.paths.reduce((n, x) => n + Buffer.byteLength(x) + 35, 0);
    // The control area is unpacked into the admin folder's tmp.ci first (scripts run from there), then its
    // files become info files: twice, at the peak.
    bytes += 8 * blockSize + round(listBytes) + round(md5Bytes) + 2 * p.controlBytes.reduce((n, c) => n + round(c), 0);
  }
  return bytes;
}
