import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { readDebData, type DebControl } from '../archive/deb';
import type { DecodeAhead } from '../archive/decode-ahead';
import { applyRecord, entryHeader, TYPES, type Pending, type TarEntry, type TarHeader } from '../archive/tar';
import { BLOCK, parseHeaderBlock } from '../archive/tar-header';
import { OvermergeError, fsError, type ErrorCode } from '../errors';
import { hostJoin, type HostPath } from '../fs/host-path';
import { removeIfPresent } from '../fs/atomic-file';
import { FileWrites } from '../fs/file-writes';
import { NewFile } from '../fs/new-file';
import { ancestorsOf, foldersOf, hardLinkTargetToRootPath, LIMITS, memberToRootPath, quoteName, ROOT_ITSELF, type RootPath } from '../fs/rootpath';
import type { EntryMeta, EntryType, ManifestEntry } from '../model/entry';
import type { StagedPackage } from '../model/staged-package';
import { Manifest } from '../model/manifest';
import type { InstalledFile } from '../model/package';
import type { PathFilter } from '../model/path-filter';
import { parseConffiles } from './conffiles';
import { shippedMd5s } from './shipped-md5s';
import { SeenMembers } from './seen-members';
import { filteredOut } from './path-filter';
import { FILE_RECORD, NativeTarStager } from './native-tar';

export interface StageOptions {
  /** Stop and refuse when the archive's files add up to more than this many bytes (compression bombs). */
  maxBytes?: number;
  /** Without maxBytes (no Installed-Size): refuse files adding up to more than this, the free space. */
  freeBytes?: number;
  /** Apply the archive's owners to staged files (only root can). */
  asRoot: boolean;
  /**
   * How many members this archive may still have (`left`) of the transaction's `limit`: every member costs
   * memory until the commit, so an archive of millions of tiny members is refused, not followed to the end.
   */
  members?: { left: number; limit: number };
  /** dpkg's --path-exclude / --path-include, in order: members they filter out are not staged. */
  pathFilters?: readonly PathFilter[];
  /** Called after each member is staged (the caller's memory policy: engine/memory-bounds.ts). */
  onMember?: () => void;
  /**
   * The installed version's files by path. A regular file member (not a conffile) whose content, mode and
   * owner are those of the installed row at its path is hashed but not written: the plan leaves such a
   * file as the root holds it (plan.ts, `unchanged`), so its staged copy was only ever created to be
   * removed at finish. Its entry has no staged content; should the plan place it after all (the root's
   * copy was changed, or it lands elsewhere), the caller stages it then (stageLate).
   */
  installed?: InstalledLookup;
  /**
   * Where files small enough to be whole in memory are handed to be written (the thread pool), when the
   * caller stages several archives and drains it once after them (or settles it after a failure), so that
   * writing goes on while the next archive is decoded. Without it each archive drains its own.
   */
  writes?: FileWrites;
  /** Data members decoded ahead of time by this process (archive/decode-ahead.ts), taken from there when there. */
  ahead?: DecodeAhead;
  /** Which xz data members the worker thread decodes itself (see NativeStageOptions): default 'small'. */
  xzInProcess?: 'small' | 'all';
  /**
   * false: never the worker thread's staging (native-tar.ts), always the JavaScript reader's (the tests
   * compare the two). Either way the manifest and the staged files are the same.
   */
  native?: boolean;
}

/** The installed rows by path, as staging asks for them (a Map is one; the stage phase reads records). */
export type InstalledLookup = Pick<ReadonlyMap<RootPath, InstalledFile>, 'get' | 'size'>;

/**
 * Members one transaction may unpack unless told otherwise: twice the largest package Debian has (116,010
 * files in papirus-icon-theme, bookworm). What grows with the members held in memory is a few tens of bytes
 * each (tables of hashes); at this limit an upgrade of one such package peaks near 91 MiB (issue 14).
 */
export const DEFAULT_MAX_MEMBERS = 250_000;

/**
 * Streams one archive's data.tar into `dir` (a fresh, empty folder of the staging area) and returns its
 * manifest; `control` is the archive's control part, read (and checked) before. Regular files are written under flat numbered names (never under the member's path, so no
 * member can steer a write through a symlink), hashed on the way, and given the archive's owner, mode and
 * mtime, so that every placement mode yields the right metadata. Nothing is written outside `dir`.
 *
 * Without `dir` nothing is written at all: the manifest is measured (sizes, hashes) with every check, and
 * no entry has staged content — what a preview of the transaction plans from (transaction.ts).
 */
export async function stageArchive(archive: string, control: DebControl, dir: HostPath | undefined, opts: StageOptions): Promise<StagedPackage> {
  const conffiles = parseConffiles(archive, control.files.get('conffiles'));
  const conffileSet = new Set<RootPath>(conffiles);
  // The MD5s the archive ships, taken instead of hashing each member twice (a conffile's is its content's).
  const shipped = shippedMd5s(control.files.get('md5sums'));
  const shippedMd5 = shipped && ((p: RootPath) => (conffileSet.has(p) ? undefined : shipped.get(p)));
  const known: KnownOfArchive = { conffiles, conffileSet, shippedMd5 };
  // The worker thread takes an xz data member of a fresh install, every member staged: no filters, nothing installed to keep.
  const forWorker = control.dataCompression === 'xz' && opts.native !== false && (opts.pathFilters ?? []).length === 0 && (opts.installed?.size ?? 0) === 0;
  if (dir !== undefined && forWorker) {
    const staged = await stageNatively(archive, control, dir, known, opts);
    if (staged !== undefined) return staged;
    // What the worker thread wrote goes; the archive is staged again, and judged, as below.
    emptyFolder(dir);
  }
  const staged = newStaged(archive, control, conffiles, dir);
  const seen = new SeenMembers((i) => staged.entries.pathAt(i));
  const aliases = new AliasGuard();
  const installed = opts.installed;
  // A conffile is never left unwritten: dpkg's conffile rules decide on it with its staged content at hand.
  const reusable = installed === undefined || installed.size === 0 ? undefined : (p: RootPath) => (conffileSet.has(p) ? undefined : installed.get(p));
  let counter = 0;
  let members = 0;
  // Small files are written on the thread pool while the next members are decoded: with a writer of this
  // archive's own, all of them before it returns.
  const own = dir !== undefined && opts.writes === undefined ? new FileWrites(opts.asRoot) : undefined;
  const writes = dir === undefined ? undefined : (opts.writes ?? own);
  try {
    // A valid tar header hidden after the end marker is refused; other trailing bytes are drained as dpkg does.
    for await (const tarEntry of readDebData(archive, { trailingData: 'hidden-members', ahead: opts.ahead })) {
      if (opts.members !== undefined && ++members > opts.members.left) {
        tarEntry.body.resume();
        throw new OvermergeError(
          'E_BAD_ARCHIVE',
          `${archive}: data.tar has more members than the ${opts.members.limit} one transaction may unpack; refusing it (--max-members sets the limit)`,
          { op: 'stage', path: archive },
        );
      }
      const budget = budgetOf(opts, staged.bytes);
      // Checked like any member, but its content only read past: it never reaches the staging area.
      const filtered = filteredOut(opts.pathFilters ?? [], tarEntry.header.nameBytes, tarEntry.header.type);
      const entry = await stageEntry(archive, filtered ? undefined : dir, tarEntry, { seen, aliases, budget, reusable, shippedMd5, manifest: staged.entries, writes }, () => counter++, opts);
      if (entry === undefined) continue;
      if (filtered) markFiltered(entry);
      addEntry(archive, staged, entry, conffileSet, opts);
    }
    await own?.drain();
  } catch (err) {
    // Nothing may still be writing into the folder when the caller cleans it up.
    await own?.settle();
    throw err;
  }
  checkConffiles(archive, conffiles, seen);
  return staged;
}

/** What staging takes from an archive's control part besides its fields. */
interface KnownOfArchive {
  conffiles: RootPath[];
  conffileSet: ReadonlySet<RootPath>;
  /** The MD5 the archive's md5sums gives a member (none for a conffile, none at all without md5sums). */
  shippedMd5?: (p: RootPath) => string | undefined;
}

function newStaged(archive: string, control: DebControl, conffiles: RootPath[], dir: HostPath | undefined): StagedPackage {
  const fields = control.fields;
  return {
    archive,
    name: fields.get('Package') ?? '',
    version: fields.get('Version') ?? '',
    architecture: fields.get('Architecture') ?? '',
    control: fields,
    controlText: control.controlText,
    controlFiles: control.files,
    conffiles,
    // A huge archive's manifest goes to disk beside its staged files (none in a preview: all in memory).
    entries: new Manifest(dir),
    bytes: 0,
  };
}

/** An entry appended to the manifest, with the size bound checked. */
function addEntry(archive: string, staged: StagedPackage, entry: ManifestEntry, conffileSet: ReadonlySet<RootPath>, opts: StageOptions): void {
  entry.conffile = entry.type === 'file' && conffileSet.has(entry.path);
  staged.bytes += entry.type === 'file' ? entry.size : 0;
  if (opts.maxBytes !== undefined && staged.bytes > opts.maxBytes) {
    throw new OvermergeError('E_BAD_ARCHIVE', `${archive}: data.tar holds more than its Installed-Size allows (over ${opts.maxBytes} bytes); refusing it as a compression bomb`, {
      op: 'stage',
      path: archive,
    });
  }
  staged.entries.push(entry);
  opts.onMember?.();
}

function checkConffiles(archive: string, conffiles: readonly RootPath[], seen: SeenMembers): void {
  for (const c of conffiles) {
    if (seen.get(c)?.type !== 'file') {
      throw new OvermergeError('E_BAD_ARCHIVE', `${archive}: conffile '/${c}' is not a plain file in the archive`, { op: 'stage', path: archive });
    }
  }
}

/**
 * The archive staged by the worker thread (native-tar.ts): its files written and hashed there, every
 * header checked here as stageEntry checks it, the manifest made from them. Undefined when the JavaScript
 * reader is to stage the archive after all: the worker thread could not take it (a shape it leaves to
 * JavaScript, no host xz, no addon), or anything here found a problem — the JavaScript reader then finds
 * it again and words the refusal, so there is one wording of every refusal.
 */
async function stageNatively(archive: string, control: DebControl, dir: HostPath, known: KnownOfArchive, opts: StageOptions): Promise<StagedPackage | undefined> {
  const stager = await NativeTarStager.open(archive, dir, {
    asRoot: opts.asRoot,
    md5: known.shippedMd5 === undefined,
    maxBytes: opts.maxBytes ?? opts.freeBytes,
    maxMembers: opts.members?.left,
    ahead: opts.ahead,
    xzInProcess: opts.xzInProcess,
  });
  if (stager === undefined) return undefined;
  const staged = newStaged(archive, control, known.conffiles, dir);
  const so: SeenSoFar = { seen: new SeenMembers((i) => staged.entries.pathAt(i)), aliases: new AliasGuard(), manifest: staged.entries, shippedMd5: known.shippedMd5 };
  const global = new Map<string, Buffer>();
  const problem = (why: string): Error => new Error(why);
  let pending: Pending = {};
  let members = 0;
  try {
    for (;;) {
      const batch = await stager.next();
      if (batch === 'fallback') return abandon(staged);
      if (batch === 'done') break;
      const { meta, files } = batch;
      let file = 0;
      for (let at = 0; at < meta.length; ) {
        const raw = parseHeaderBlock(meta.subarray(at, at + BLOCK));
        at += BLOCK;
        if (!(raw.typeflag in TYPES)) {
          pending = applyRecord(raw, meta.subarray(at, at + raw.size), pending, global);
          at += Math.ceil(raw.size / BLOCK) * BLOCK;
          continue;
        }
        const header = entryHeader(raw, pending, global, problem);
        pending = {};
        if (opts.members !== undefined && ++members > opts.members.left) return abandon(staged);
        let record: Buffer | undefined;
        if (header.type === 'file') {
          record = files.subarray(file * FILE_RECORD, ++file * FILE_RECORD);
          if (record.length < FILE_RECORD) return abandon(staged);
        }
        so.budget = budgetOf(opts, staged.bytes);
        const r = refusalsOf(archive, header, noBody);
        const checked = checkMember(header, so, r);
        if (checked === undefined) continue;
        const { p, meta: m } = checked;
        const entry =
          record === undefined ? otherEntry(header, p, m, so, opts, r) : fileEntry(p, m, recordDigests(record, header.size, known.shippedMd5?.(p), dir), dir, record.readUInt32LE(0));
        so.seen.add(p, so.manifest.length, entry.type);
        addEntry(archive, staged, entry, known.conffileSet, opts);
      }
      if (file * FILE_RECORD !== files.length) return abandon(staged);
    }
    if (pending.pax || pending.longName || pending.longLink) return abandon(staged);
  } catch {
    return abandon(staged);
  } finally {
    await stager.close();
  }
  checkConffiles(archive, known.conffiles, so.seen);
  staged.byWorker = true;
  return staged;
}

function noBody(): void {
  // The worker thread read every body already.
}

function abandon(staged: StagedPackage): undefined {
  staged.entries.close();
  return undefined;
}

/**
 * A file's digests from the worker thread's record, as writeStaged makes them: the MD5 from md5sums when it
 * gives one, else the record's (asked for when there are no md5sums), else the staged file's (a conffile).
 */
function recordDigests(record: Buffer, size: number, shipped: string | undefined, dir: HostPath): Digests {
  const md5 = shipped ?? (size === 0 ? EMPTY.md5 : record.subarray(36, 52).some((b) => b !== 0) ? record.toString('hex', 36, 52) : md5OfFile(hostJoin(dir, String(record.readUInt32LE(0)))));
  if (size === 0 && md5 === EMPTY.md5) return { ...EMPTY, size };
  return { sha256: size === 0 ? EMPTY.sha256 : record.toString('hex', 4, 36), md5, size };
}

/** The MD5 of a staged file, read a piece at a time. */
function md5OfFile(file: HostPath): string {
  const md5 = createHash('md5');
  const fd = openSync(file, 'r');
  try {
    const piece = Buffer.allocUnsafe(WRITE_PIECE);
    for (let n; (n = readSync(fd, piece, 0, piece.length, null)) > 0; ) md5.update(piece.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return md5.digest('hex');
}

/** The files the worker thread wrote into `dir` removed: its numbered names (a manifest's spill file has no name). */
function emptyFolder(dir: HostPath): void {
  for (const name of readdirSync(dir)) if (/^[0-9]+$/.test(name)) removeIfPresent(hostJoin(dir, name));
}

/**
 * A filtered member keeps no digests: dpkg never reads its content, so the md5sums it writes for an
 * archive without them leave it out, and nothing is compared with it.
 */
function markFiltered(entry: ManifestEntry): void {
  entry.filtered = true;
  delete entry.sha256;
  delete entry.md5;
}

interface Budget {
  left: number;
  total: number;
  /** Installed-Size, or (without it) the free space. */
  from: 'installed-size' | 'free-space';
}

function budgetOf(opts: StageOptions, used: number): Budget | undefined {
  if (opts.maxBytes !== undefined) return { left: opts.maxBytes - used, total: opts.maxBytes, from: 'installed-size' };
  if (opts.freeBytes !== undefined) return { left: opts.freeBytes - used, total: opts.freeBytes, from: 'free-space' };
  return undefined;
}

/** What the checks of one member need to know about the members before it. */
interface SeenSoFar {
  seen: SeenMembers;
  /** The manifest the member will be appended to (its index is the manifest's length). */
  manifest: Manifest;
  aliases: AliasGuard;
  /** Bytes the rest of the archive may still add, when bounded. */
  budget?: Budget;
  /** The installed row a member at this path may be identical to (StageOptions.installed). */
  reusable?: (p: RootPath) => InstalledFile | undefined;
  /** The MD5 the archive's md5sums gives a member's path, if it is to be taken from there (shipped-md5s.ts). */
  shippedMd5?: (p: RootPath) => string | undefined;
  /** Where a staged file whole in memory is handed to be written (the thread pool). */
  writes?: FileWrites;
}

/** The refusals of one member, worded as staging words them; `resume` lets go of its unread body first. */
interface Refusals {
  refuseAs(code: ErrorCode, why: string): never;
  refuse(why: string): never;
  rethrow(err: unknown): never;
}

function refusalsOf(archive: string, header: TarHeader, resume: () => void): Refusals {
  const refuseAs = (code: ErrorCode, why: string): never => {
    resume();
    // Made only for a refusal, not for each of the thousands of members that are fine.
    const shown = quoteName(memberDisplayName(header.nameBytes, header.nameIsUtf8));
    throw new OvermergeError(code, `${archive}: member ${shown}: ${why}`, { op: 'stage', path: archive });
  };
  return {
    refuseAs,
    refuse: (why) => refuseAs('E_UNSAFE_PATH', why),
    rethrow: (err) => {
      resume();
      if (err instanceof OvermergeError) {
        throw new OvermergeError(err.code, `${archive}: ${err.message}`, { op: 'stage', path: archive, cause: err });
      }
      throw err;
    },
  };
}

async function stageEntry(
  archive: string,
  dir: HostPath | undefined,
  { header, body }: TarEntry,
  so: SeenSoFar,
  nextName: () => number,
  opts: StageOptions,
): Promise<ManifestEntry | undefined> {
  const r = refusalsOf(archive, header, () => body.resume());
  const checked = checkMember(header, so, r);
  if (checked === undefined) {
    body.resume();
    return undefined;
  }
  const { p, meta } = checked;
  let entry: ManifestEntry;
  if (header.type === 'file') {
    const md5 = so.shippedMd5?.(p);
    if (dir === undefined) {
      entry = fileEntry(p, meta, await measure(body, md5), undefined, undefined);
    } else {
      const row = so.reusable?.(p);
      const { digests, stagedAs } = await writeStaged(dir, nextName, body, meta, opts.asRoot, row && ((d) => sameAsInstalled(row, meta, d)), md5, so.writes);
      entry = fileEntry(p, meta, digests, stagedAs === undefined ? undefined : dir, stagedAs);
    }
  } else {
    body.resume();
    entry = otherEntry(header, p, meta, so, opts, r);
  }
  so.seen.add(p, so.manifest.length, entry.type);
  return entry;
}

/**
 * Every check of one member that its content plays no part in: its name, where it lies, repeats, case
 * aliases, the size bound. Its path and metadata, or undefined for a folder listed again (dpkg tolerates
 * that; the member is skipped).
 */
function checkMember(header: TarHeader, { seen, aliases, budget }: SeenSoFar, r: Refusals): { p: RootPath; meta: EntryMeta } | undefined {
  const { refuse, refuseAs } = r;
  if (!header.nameIsUtf8) refuse('the name is not valid UTF-8; refusing rather than renaming it');
  if (header.linkIsUtf8 === false) refuse('the link target is not valid UTF-8; refusing rather than changing it');
  let p: RootPath = ROOT_ITSELF;
  try {
    p = memberToRootPath(header.name);
  } catch (err) {
    r.rethrow(err);
  }
  if (p === '' && header.type !== 'directory') refuse(`names the root itself, which must be a directory, not a ${header.type}`);
  checkAncestors(p, seen, refuse);
  const previous = seen.get(p);
  if (previous !== undefined) {
    // dpkg tolerates a directory listed twice; any other repeat would make the result depend on order.
    if (previous.type === 'directory' && header.type === 'directory') return undefined;
    refuseAs('E_BAD_ARCHIVE', `appears twice in the archive (as ${previous.type} and ${header.type})`);
  }
  aliases.check(p, header.type, refuse);
  if (budget !== undefined && header.type === 'file' && header.size > budget.left) {
    // Refused on the declared size, before a byte is written: a bomb never reaches the disk.
    if (budget.from === 'installed-size') {
      refuseAs(
        'E_BAD_ARCHIVE',
        `${header.size} bytes would take the package past what its Installed-Size allows (${budget.total} bytes in all); refusing it as a compression bomb`,
      );
    }
    refuseAs(
      'E_NO_SPACE',
      `${header.size} bytes would take the package past the ${budget.total} bytes free in the root (it declares no Installed-Size)`,
    );
  }
  return { p, meta: { mode: header.mode & 0o7777, uid: header.uid, gid: header.gid, mtime: header.mtime } };
}

/** The entry of a member that is not a regular file (its body, none, already let go of). */
function otherEntry(header: TarHeader, p: RootPath, meta: EntryMeta, { seen, manifest }: SeenSoFar, opts: StageOptions, r: Refusals): ManifestEntry {
  const { refuse, refuseAs } = r;
  switch (header.type) {
    case 'hardlink': {
      const name = header.linkname ?? '';
      let to: RootPath = ROOT_ITSELF;
      try {
        to = hardLinkTargetToRootPath(header.name, name);
      } catch (err) {
        r.rethrow(err);
      }
      const seenTarget = seen.get(to);
      if (seenTarget === undefined) {
        const through = nonDirectoryAncestor(to, seen);
        if (through) refuse(`hard link to ${quoteName(name)}, which goes through ${through.type} '${through.path}' shipped earlier in the archive`);
        refuse(`hard link to ${quoteName(name)}, which is not an earlier member of the archive`);
      }
      if (seenTarget!.type !== 'file') refuse(`hard link to ${quoteName(name)}, which is a ${seenTarget!.type}, not a regular file`);
      const target = manifest.at(seenTarget!.index);
      return { path: p, type: 'hardlink', mode: meta.mode, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, size: target.size, conffile: false, linkTo: to, sha256: target.sha256, md5: target.md5 };
    }
    case 'symlink': {
      const target = header.linkname ?? '';
      if (target === '') refuse('symlink with an empty target');
      // symlink(2) would fail with ENAMETOOLONG halfway through the transaction; say it now.
      if (Buffer.byteLength(target) > LIMITS.pathBytes) {
        refuse(`symlink target is ${Buffer.byteLength(target)} bytes long (the limit is ${LIMITS.pathBytes})`);
      }
      return { path: p, type: 'symlink', mode: meta.mode, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, size: 0, conffile: false, target };
    }
    case 'char':
    case 'block':
      // Said here, before anything is placed, rather than by mknod halfway through the transaction.
      if (!opts.asRoot) refuseAs('E_FS', `is a ${header.type === 'char' ? 'character' : 'block'} device, which only root can create (run as root)`);
      return { ...bareEntry(p, header.type, meta), devmajor: header.devmajor, devminor: header.devminor }; // rare: a spread will do
    default:
      return bareEntry(p, header.type, meta);
  }
}

/** A member's entry with the fields every type has (no content, no link); each type's entry is one literal (fileEntry says why). */
function bareEntry(p: RootPath, type: EntryType, m: EntryMeta): ManifestEntry {
  return { path: p, type, mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: 0, conffile: false };
}

/**
 * A regular file's entry, made whole in one object literal: V8 gives a literal exactly its own fields
 * in the object, and each field added afterwards goes to a separate property array (64 bytes more per
 * member, 7 MiB for 116,010 members held until the commit). The two shapes (staged, measured) keep
 * `stagedIn` absent rather than undefined where nothing was staged.
 */
function fileEntry(p: RootPath, m: EntryMeta, d: Digests, dir: HostPath | undefined, stagedAs: number | undefined): ManifestEntry {
  if (dir === undefined) {
    return { path: p, type: 'file', mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: d.size, conffile: false, sha256: d.sha256, md5: d.md5 };
  }
  return { path: p, type: 'file', mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime, size: d.size, conffile: false, stagedIn: dir, stagedAs, sha256: d.sha256, md5: d.md5 };
}

/** A member may not lie beneath a non-directory shipped earlier in the same archive (a planted symlink). */
function checkAncestors(p: RootPath, seen: SeenMembers, refuse: (why: string) => never): void {
  const anc = nonDirectoryAncestor(p, seen);
  if (anc) refuse(`lies beneath '${anc.path}', which the archive ships as a ${anc.type}`);
}

function nonDirectoryAncestor(p: RootPath, seen: SeenMembers): { path: RootPath; type: EntryType } | undefined {
  for (const folder of foldersOf(p)) {
    const type = seen.nonDirectory(folder);
    if (type !== undefined) return { path: folder, type };
  }
  return undefined;
}

/**
 * Names are exact bytes here, but case-insensitive filesystems (ext4 casefold, vfat) and
 * normalising ones treat 'Foo' and 'foo', or NFC and NFD 'é', as one name. So a symlink must not
 * stand, in that looser sense, where another member's folder is: one of them would be written through
 * the other. Exact repeats are the duplicate and ancestor checks' business; this catches the rest.
 */
class AliasGuard {
  /** Folded name of each symlink member → its exact path. */
  private readonly symlinks = new Map<string, RootPath>();
  /** Every folder some member lies in (exact path → folded), and folded → exact. */
  private readonly folders = new Map<RootPath, string>();
  private readonly foldersFolded = new Map<string, RootPath>();

  check(p: RootPath, type: string, refuse: (why: string) => never): void {
    if (this.symlinks.size > 0) {
      for (const anc of foldersOf(p)) {
        const link = this.symlinks.get(this.folded(anc));
        if (link !== undefined && link !== anc) {
          refuse(`lies beneath '${anc}', which differs only in case or Unicode normalisation from symlink '${link}' earlier in the archive (one name on some filesystems)`);
        }
      }
    }
    if (type === 'symlink') {
      const key = fold(p);
      const folder = this.foldersFolded.get(key);
      if (folder === p) refuse('is a symlink, but earlier members lie beneath it');
      if (folder !== undefined) {
        refuse(`is a symlink whose name differs only in case or Unicode normalisation from '${folder}', where earlier members lie (one name on some filesystems)`);
      }
      this.symlinks.set(key, p);
    }
    this.addFolders(p);
  }

  private folded(anc: RootPath): string {
    return this.folders.get(anc) ?? fold(anc);
  }

  /** Records p's parent folders; stops at the first one already known (its own parents are known too). */
  private addFolders(p: RootPath): void {
    for (const folder of ancestorsOf(p)) {
      if (folder === ROOT_ITSELF || this.folders.has(folder)) return;
      const key = fold(folder);
      this.folders.set(folder, key);
      if (!this.foldersFolded.has(key)) this.foldersFolded.set(key, folder);
    }
  }
}

/** A key equal for names that a case-insensitive or normalising filesystem would take as one. */
function fold(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(name)) return name.toLowerCase();
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/** A member name for messages: its text, or for a name that is not UTF-8, its bytes with the others as \xNN. */
function memberDisplayName(bytes: Buffer, isUtf8: boolean): string {
  if (isUtf8) return bytes.toString('utf8');
  let out = '';
  for (const b of bytes) out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** A member's content digests (hex) and its size. */
interface Digests {
  sha256: string;
  md5: string;
  size: number;
}

/** The digests of empty content: every empty member shares these two strings. */
const EMPTY = {
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
} as const;

/**
 * A member's digests in hex. Empty members (often thousands in one archive: placeholders, `__init__.py`)
 * share one pair of strings instead of 128 bytes of fresh ones each, held until the commit.
 */
function digestsOf(sha: Hash, md5: Hash | string, size: number): Digests {
  const md5Hex = typeof md5 === 'string' ? md5 : size === 0 ? EMPTY.md5 : md5.digest('hex');
  if (size === 0 && md5Hex === EMPTY.md5) return { ...EMPTY, size };
  return { sha256: size === 0 ? EMPTY.sha256 : sha.digest('hex'), md5: md5Hex, size };
}

/**
 * The MD5 to compute while reading a member: none when the archive's md5sums gives it (`shipped`). MD5
 * was two thirds of staging's hashing (SHA-256 runs on the CPU's SHA extensions; MD5 has none).
 */
function md5Hash(shipped: string | undefined): Hash | string {
  return shipped ?? createHash('md5');
}

/** A member's content hashed and counted, written nowhere; `shippedMd5` as for writeStaged. */
async function measure(body: AsyncIterable<Buffer>, shippedMd5?: string): Promise<Digests> {
  const sha = createHash('sha256');
  const md5 = md5Hash(shippedMd5);
  let size = 0;
  for await (const chunk of body) {
    sha.update(chunk);
    if (typeof md5 !== 'string') md5.update(chunk);
    size += chunk.length;
  }
  return digestsOf(sha, md5, size);
}

/** Staged content is gathered into pieces of this size before it is written. */
const WRITE_PIECE = 1 << 20;

/**
 * Whether a member is the installed file at its path: same content, size, mode and owner (what the plan's
 * `unchanged` compares with the row; the mtime is kept as installed there).
 */
function sameAsInstalled(row: InstalledFile, e: EntryMeta, d: Digests): boolean {
  return row.type === 'file' && !row.conffile && row.sha256 === d.sha256 && row.size === d.size && row.mode === e.mode && row.uid === e.uid && row.gid === e.gid;
}

/**
 * Writes one staged file into `dir` under the next name, with the archive's owner, mode and mtime, hashing
 * it on the way; `stagedAs` is its name. The file's calls are synchronous (NewFile says why); the
 * decompressor keeps working on its own threads meanwhile.
 *
 * The file is created when its first piece is due: a member smaller than a piece is whole in memory by
 * then, and when `skip` says its digests make it the installed file, nothing is written (no `stagedAs`).
 * Such a member is handed whole to `writes` when given (written on the thread pool; the caller drains it).
 * `shippedMd5`: the member's MD5 as the archive's md5sums gives it, taken rather than computed.
 */
async function writeStaged(
  dir: HostPath,
  nextName: () => number,
  body: AsyncIterable<Buffer>,
  e: EntryMeta,
  asRoot: boolean,
  skip?: (d: Digests) => boolean,
  shippedMd5?: string,
  writes?: FileWrites,
): Promise<{ digests: Digests; stagedAs?: number }> {
  const sha = createHash('sha256');
  const md5 = md5Hash(shippedMd5);
  let size = 0;
  let out: NewFile | undefined;
  let stagedAs: number | undefined;
  let file: HostPath = dir;
  const create = (): NewFile => {
    stagedAs = nextName();
    file = hostJoin(dir, String(stagedAs));
    // A fresh name, never followed: staging holds only what we create here.
    return NewFile.create(file);
  };
  try {
    let held: Buffer[] = [];
    let heldBytes = 0;
    for await (const chunk of body) {
      sha.update(chunk);
      if (typeof md5 !== 'string') md5.update(chunk);
      size += chunk.length;
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes >= WRITE_PIECE) {
        out ??= create();
        out.write(held);
        held = [];
        heldBytes = 0;
      }
    }
    const digests = digestsOf(sha, md5, size);
    if (out === undefined && skip?.(digests)) return { digests };
    if (out === undefined && writes !== undefined) {
      stagedAs = nextName();
      file = hostJoin(dir, String(stagedAs));
      await writes.write(file, held, size, e);
      return { digests, stagedAs };
    }
    out ??= create();
    out.write(held);
    out.setMeta(e, asRoot);
    return { digests, stagedAs };
  } catch (err) {
    if (err instanceof OvermergeError) throw err;
    throw fsError('write staged file', err, file);
  } finally {
    out?.close();
  }
}

/**
 * Stages, after all, members that stageArchive hashed but did not write (StageOptions.installed) and that
 * the plan places: `wanted` are their indexes in the archive's manifest, each with the plan's own objects
 * of that entry (its steps'), all of which are given the staged content here (in `dir`, a fresh folder of
 * the transaction's staging area). The archive is read again; each member must be what it was the first
 * time (the digests and size its entry holds), or the archive changed in between and is refused. The
 * entry's own owner, mode and mtime are applied: what was checked and will be recorded.
 */
export async function stageLate(
  archive: string,
  dir: HostPath,
  manifest: Manifest,
  wanted: ReadonlyMap<number, readonly ManifestEntry[]>,
  asRoot: boolean,
): Promise<void> {
  const byPath = new Map<RootPath, number>();
  for (const index of wanted.keys()) byPath.set(manifest.at(index).path, index);
  const changed = (what: string): OvermergeError =>
    new OvermergeError('E_BAD_ARCHIVE', `${archive}: ${what} is not what it was when the archive was first read; the archive changed during the transaction`, {
      op: 'stage',
      path: archive,
    });
  let counter = 0;
  for await (const { header, body } of readDebData(archive, { trailingData: 'hidden-members' })) {
    let p: RootPath | undefined;
    try {
      p = memberToRootPath(header.name);
    } catch {
      p = undefined; // refused the first time, so not one of ours: skipped like any other
    }
    const index = p === undefined ? undefined : byPath.get(p);
    if (index === undefined || header.type !== 'file') {
      body.resume();
      continue;
    }
    const entry = manifest.at(index);
    byPath.delete(entry.path);
    // The content is checked by its SHA-256 and size; its MD5 stays the one recorded (perhaps md5sums').
    const { digests, stagedAs } = await writeStaged(dir, () => counter++, body, entry, asRoot, undefined, entry.md5);
    if (digests.sha256 !== entry.sha256 || digests.size !== entry.size) throw changed(`member '${entry.path}'`);
    manifest.setStaged(index, dir, stagedAs!);
    for (const e of wanted.get(index) ?? []) {
      e.stagedIn = dir;
      e.stagedAs = stagedAs;
    }
    if (byPath.size === 0) break;
  }
  if (byPath.size > 0) throw changed(`member '${[...byPath.keys()][0]}'`);
}
