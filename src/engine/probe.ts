import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, promises as fsp, readFileSync, readlinkSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../db/db';
import type { FileRow, PackageRow } from '../db/types';
import { errnoOf, fsError } from '../errors';
import { ancestorsOf, baseName, hostPath, joinRootPath, parentOf, recordedRootPath, withSuffix, type Root, type RootPath } from '../fs/rootpath';
import { resolveInRoot, resolveParentInRoot } from '../fs/resolve-in-root';
import { ABSENT, type DiskState } from '../model/disk';
import { DiskStates } from '../model/disk-states';
import { InstalledFiles } from '../model/installed-files';
import type { HostPath } from '../fs/host-path';
import { sharedDigest, sharedEntryType } from '../model/entry';
import type { StagedPackage } from '../model/staged-package';
import type { InstalledFile, InstalledPackage, Owner } from '../model/package';

/** What a folder on the way to a path is, as a walk from the root finds it (Probe.folderKind). */
type FolderKind = 'dir' | 'other' | 'missing' | 'unreal';

/**
 * Gathers, with reads only, every fact the planner needs about the root and the database: where each
 * shipped path lands, what is there now, and who owns it. Each query is by path or by package, so the cost
 * follows the size of the transaction, not of the installed system.
 */
export class Probe {
  /**
   * What was looked at. A path beneath a folder found absent is absent too and is not kept (readers take a
   * missing path for absent): a fresh install of a huge folder keeps one entry, not one per member
   * (116,010 members: 4 MiB from the probe to the commit), and makes no lstat of them. A huge upgrade's
   * states keep most of their records in the staging area (`spillIn`).
   */
  readonly disk: DiskStates;
  readonly owners = new Map<RootPath, Owner[]>();
  readonly ownedBeneath = new Map<RootPath, Owner[]>();
  private readonly parentCache = new Map<RootPath, RootPath>();
  /**
   * Non-directories (a symlink leading out of the root, say) where a shipped directory will be made: what
   * lies beneath them on the host is not in the root, so it is never looked at (it reads as absent).
   */
  private readonly replacedByDir = new Set<RootPath>();
  private readonly packageById = new Map<number, PackageRow | undefined>();
  /** Folders whose own folders up to the root have been looked at (lookAncestors). */
  private readonly ancestorsKnown = new Set<RootPath>();
  /** What each folder looked at on the way to a path is (folderKind): none but 'unreal' has a symlink on its path. */
  private readonly realParents = new Map<RootPath, FolderKind>();

  /** `spillIn`: a folder of the staging area where a huge installed version's rows and the disk states may keep their records. */
  constructor(
    readonly root: Root,
    private readonly db: Db,
    private readonly spillIn?: HostPath,
  ) {
    this.disk = new DiskStates(spillIn);
  }

  /**
   * Forgets everything looked at: maintainer scripts ran since (a preinst may make folders, move files),
   * and the plan must see the root as they left it.
   */
  forget(): void {
    for (const cache of [this.disk, this.owners, this.ownedBeneath, this.parentCache, this.packageById, this.realParents]) cache.clear();
    this.replacedByDir.clear();
    this.ancestorsKnown.clear();
  }

  /**
   * Where each shipped path of `staged` lands inside the root. A directory the package ships decides
   * where its children go: through it if the root has a symlink to a directory there (dpkg follows those,
   * as in merged /usr), else at its own location — even if the root still has a file there that this
   * transaction turns into a directory. Other parents are resolved on the disk, inside the root.
   */
  async resolveAll(staged: StagedPackage): Promise<Map<RootPath, RootPath>> {
    // Only paths that land elsewhere are kept (callers read `get(p) ?? p`): a huge archive costs no map entry a member.
    const out = new Map<RootPath, RootPath>();
    const childrenGo = new Map<RootPath, RootPath>();
    // By index, path and kind only: no member decoded whole (twice a transaction for every member).
    const m = staged.entries;
    for (let k = 0; k < m.length; k++) {
      const path = m.pathAt(k);
      if (path === '') {
        childrenGo.set(path, path);
        continue;
      }
      const parent = parentOf(path);
      const base = childrenGo.get(parent) ?? (await this.resolveParentOnDisk(parent));
      const at = base === parent ? path : joinRootPath(base, baseName(path));
      if (at !== path) out.set(path, at);
      if (m.kindAt(k).type === 'directory') {
        const d = await this.look(at);
        if (d.type !== 'directory' && d.type !== 'absent' && !(d.type === 'symlink' && d.targetIsDir)) this.replacedByDir.add(at);
        childrenGo.set(path, d.type === 'symlink' && d.targetIsDir ? await resolveInRoot(this.root, at, { followFinal: true }) : at);
      }
    }
    return out;
  }

  private async resolveParentOnDisk(parent: RootPath): Promise<RootPath> {
    let resolved = this.parentCache.get(parent);
    if (resolved === undefined) {
      resolved = (await resolveParentInRoot(this.root, joinRootPath(parent, 'x'))).parent;
      this.parentCache.set(parent, resolved);
    }
    return resolved;
  }

  /** The installed package `name:arch` with its file rows, or undefined. */
  installed(name: string, architecture: string): InstalledPackage | undefined {
    const row = this.db.packages.get(name, architecture);
    return row ? this.withFiles(row) : undefined;
  }

  withFiles(row: PackageRow): InstalledPackage {
    const files = new InstalledFiles(this.spillIn);
    for (const f of this.db.files.filesOf(row.id)) files.push(toInstalledFile(f));
    return { name: row.name, architecture: row.architecture, version: row.version, status: row.status, control: row.control, files };
  }

  /**
   * lstat of `p`, with what the planner needs for its kind: the content digest of a file (`digest`), the
   * direct children (`children`) or every path beneath (`beneath`) of a directory. Cached per path.
   */
  async look(p: RootPath, want: { digest?: boolean; children?: boolean; beneath?: boolean } = {}): Promise<DiskState> {
    let state = this.disk.get(p);
    if (state === undefined) {
      if (this.inAbsentFolder(p)) return ABSENT;
      if (this.beneathReplaced(p)) state = ABSENT;
      else {
        // Awaited only for a symlink (its target's kind): a look at each of 4,800 paths, several times a
        // bootstrap, made no promise of its own for the rest.
        const now = this.lstat(p);
        state = now instanceof Promise ? await now : now;
      }
      this.disk.set(p, state);
    }
    const host = hostPath(this.root, p);
    // The map hands out copies of plain states (DiskStates): a detail added is kept by setting it again.
    let added = false;
    if (want.digest && state.type === 'file' && state.md5 === undefined) {
      state.md5 = (state.size ?? Infinity) <= WHOLE_READ_BYTES ? md5OfSmall(host) : await md5Of(host);
      added = true;
    }
    if (state.type === 'directory') {
      if (want.children && state.children === undefined) {
        state.children = await this.listChildren(p);
        added = true;
      }
      if (want.beneath && state.beneath === undefined) {
        state.beneath = await this.listBeneath(p);
        added = true;
      }
    }
    if (added) this.disk.set(p, state);
    return state;
  }

  /** Whether the nearest folder above `p` that was looked at was found absent (so `p` is absent too). */
  private inAbsentFolder(p: RootPath): boolean {
    for (let a = p; a !== ''; ) {
      a = parentOf(a);
      const type = this.disk.typeAt(a);
      if (type !== undefined) return type === 'absent';
    }
    return false;
  }

  /** Looks at every folder above `p`, up to the root (who may change them: checkGuarded). */
  async lookAncestors(p: RootPath): Promise<void> {
    for (let a = p; a !== ''; ) {
      a = parentOf(a);
      if (this.ancestorsKnown.has(a)) return;
      this.ancestorsKnown.add(a);
      await this.look(a);
    }
  }

  /**
   * What `p` is as a folder on the way to a path, from what its own folder is (cached) and one lstat of
   * it: the answer of a walk from the root (resolve-in-root.ts) without walking from the root for every
   * folder. 'unreal' is a path through a symlink, or on from a non-folder, or one that cannot be looked
   * at; beneath a missing folder everything is missing (named as written, as the walk names it).
   */
  private folderKind(p: RootPath): FolderKind {
    if (p === '') return 'dir';
    let kind = this.realParents.get(p);
    if (kind !== undefined) return kind;
    const above = this.folderKind(parentOf(p));
    if (above === 'unreal' || above === 'other') kind = 'unreal';
    else if (above === 'missing') kind = 'missing';
    else {
      try {
        const st = lstatSync(hostPath(this.root, p), { throwIfNoEntry: false });
        kind = st === undefined ? 'missing' : st.isSymbolicLink() ? 'unreal' : st.isDirectory() ? 'dir' : 'other';
      } catch {
        kind = 'unreal';
      }
    }
    this.realParents.set(p, kind);
    return kind;
  }

  private beneathReplaced(p: RootPath): boolean {
    if (this.replacedByDir.size === 0) return false;
    for (const a of ancestorsOf(p)) if (this.replacedByDir.has(a)) return true;
    return false;
  }

  private lstat(p: RootPath): DiskState | Promise<DiskState> {
    // Recorded and resolved paths never run through a symlink. If one does now (a folder was replaced by
    // a link since), the path is not where it was: it reads as absent, so no step can act through the
    // link — possibly out of the root.
    if (this.folderKind(parentOf(p)) === 'unreal') return ABSENT;
    const host = hostPath(this.root, p);
    let st: BigIntStats | undefined;
    try {
      // Synchronous, and with no error object for "absent": a fresh install asks about tens of thousands
      // of paths that are not there, each a few microseconds on the dentry cache, far less than a
      // thread-pool round trip.
      st = lstatSync(host, { bigint: true, throwIfNoEntry: false });
    } catch (err) {
      if (errnoOf(err) === 'ENOTDIR') return ABSENT;
      throw fsError('inspect', err, host);
    }
    if (st === undefined) return ABSENT;
    const state = diskStateOf(st);
    if (state.type === 'symlink') {
      state.target = readlinkSync(host);
      return this.isDirectoryInRoot(p).then((isDir) => {
        state.targetIsDir = isDir;
        return state;
      });
    }
    return state;
  }

  private async listChildren(dir: RootPath): Promise<RootPath[]> {
    const host = hostPath(this.root, dir);
    const names = await fsp.readdir(host).catch((err: unknown) => {
      throw fsError('list', err, host);
    });
    return names.map((n) => joinRootPath(dir, n));
  }

  private async isDirectoryInRoot(p: RootPath): Promise<boolean> {
    try {
      const target = await resolveInRoot(this.root, p, { followFinal: true });
      return lstatSync(hostPath(this.root, target)).isDirectory();
    } catch {
      return false; // dangling, looping or escaping: not a directory we would install through
    }
  }

  /** Every path beneath directory `dir`, parents before children. */
  private async listBeneath(dir: RootPath): Promise<RootPath[]> {
    const out: RootPath[] = [];
    const queue: RootPath[] = [dir];
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
      const entries = await fsp.readdir(hostPath(this.root, d), { withFileTypes: true }).catch((err: unknown) => {
        throw fsError('list', err, hostPath(this.root, d));
      });
      for (const e of entries) {
        const child = joinRootPath(d, e.name);
        out.push(child);
        if (e.isDirectory()) queue.push(child);
      }
    }
    return out;
  }

  /**
   * Records the owners of each of `paths` other than the packages `except` (the transaction's own, which
   * the planner never counts as owners: an upgrade of a huge package kept a list per member, 12 MiB at
   * 116,010), looked up in batches.
   */
  ownersOfMany(paths: readonly RootPath[], except: ReadonlySet<number>): void {
    for (const [p, rows] of this.db.files.ownersOfMany(paths.filter((p) => !this.owners.has(p)))) {
      const owners = rows.filter((o) => !except.has(o.packageId));
      // Most paths have no other owner; the planner reads a missing key as none, so no empty list per member.
      if (owners.length > 0) this.owners.set(p, owners.map((o) => this.ownerFrom(o.packageId, o.type)));
    }
  }

  /** Records packages other than `except` owning anything beneath directory `p`. */
  ownersBeneath(p: RootPath, except: number[]): void {
    if (this.ownedBeneath.has(p)) return;
    const rows = this.db.files.otherOwnersUnder(p, except, 8);
    this.ownedBeneath.set(p, rows.map((o) => this.ownerFrom(o.packageId, o.type)));
  }

  private ownerFrom(packageId: number, type: Owner['type']): Owner {
    if (!this.packageById.has(packageId)) this.packageById.set(packageId, this.db.packages.byId(packageId));
    const row = this.packageById.get(packageId);
    return { name: row?.name ?? `#${packageId}`, architecture: row?.architecture ?? '', version: row?.version ?? '', type };
  }
}

/** Paths next to a conffile that dpkg's conffile handling creates and purge removes. */
export function conffileCompanions(p: RootPath): RootPath[] {
  return ['.dpkg-old', '.dpkg-dist', '.dpkg-new', '.dpkg-tmp'].map((s) => withSuffix(p, s));
}

export function toInstalledFile(f: FileRow): InstalledFile {
  return {
    path: recordedRootPath(f.path),
    type: sharedEntryType(f.type),
    mode: f.mode,
    uid: f.uid,
    gid: f.gid,
    size: f.size,
    mtime: f.mtime ?? 0,
    // A database row brings its own copy of each string: empty files share theirs, as in the manifest.
    sha256: sharedDigest(f.sha256),
    md5: sharedDigest(f.md5),
    target: f.linkTarget ?? undefined,
    devmajor: f.devMajor ?? undefined,
    devminor: f.devMinor ?? undefined,
    conffile: f.conffile,
    conffileHash: f.conffileHash ?? undefined,
  };
}

/** What an lstat says of an entry, as the probe keeps it (a symlink's target is the caller's to add). */
export function diskStateOf(st: BigIntStats): DiskState {
  return {
    type: typeOf(st),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    ino: st.ino,
  };
}

function typeOf(st: BigIntStats): DiskState['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

/**
 * Files up to this size are hashed from one synchronous read: those the planner hashes are conffiles and
 * files in the way, nearly all of a few KiB, and a stream's thread-pool round trips left this process idle
 * longer than the reading (a bootstrap hashes about 300).
 */
const WHOLE_READ_BYTES = 1 << 20;

function md5OfSmall(host: string): string {
  try {
    return createHash('md5').update(readFileSync(host)).digest('hex');
  } catch (err) {
    throw fsError('read', err, host);
  }
}

export async function md5Of(host: string): Promise<string> {
  const h = createHash('md5');
  await pipeline(createReadStream(host), h).catch((err: unknown) => {
    throw fsError('read', err, host);
  });
  return h.digest('hex');
}
