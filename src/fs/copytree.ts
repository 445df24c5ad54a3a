import { constants as C, copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, type BigIntStats, type Dirent } from 'node:fs';
import { fsError, OvermergeError } from '../errors';
import { applyOwnerModeXattrsSync, kindOf, majorMinor, TimesBatch } from './metadata';
import { hostJoin, type HostPath } from './host-path';
import { mknod } from './mknod';
import { CLONE_REFUSED, copyEntryBinding, NativeFlag, NativeKind, nativeCopy, type CopyEntryBinding } from './copy-entry-addon';
import { step, type StepHooks } from './steps';
import { readXattrsSync } from './xattr';


export interface CopyOptions {
  hooks?: StepHooks;
  /** `false` takes the way of a host where src/fs/native/copy_entry.c was not built (its tests do). */
  useAddon?: boolean;
}

/** What a copy created, so the caller can make it durable before trusting it. */
export interface CopyResult {
  /** Regular files written (each once, however many hard links it has). */
  files: HostPath[];
  /** Directories created, the top one included. */
  dirs: HostPath[];
  entries: number;
  bytes: bigint;
}

interface CopyContext {
  hooks?: StepHooks;
  asRoot: boolean;
  /** The process's user and group: what a file it creates in a folder of its own belongs to. */
  self: { uid: number; gid: number };
  times: TimesBatch;
  /** The addon that copies a non-directory whole, or null: then Node's calls do it (copyLeaf). */
  native: CopyEntryBinding | null;
  /** The addon's answer besides its kind: size, dev, ino (one array for the whole copy). */
  out: BigUint64Array;
  /** A reflink was refused as unsupported: the addon stops trying one per file. */
  noClone: boolean;
  /** dev:ino of a multiply-linked source → the copy made for its first name. */
  links: Map<string, HostPath>;
  /** Entries copied since the event loop last had a turn. */
  sinceYield: number;
  result: CopyResult;
}

/**
 * Entries copied between two turns of the event loop. Each entry is copied with synchronous calls (see
 * copyLeaf); a turn now and then keeps timers and signal handlers running during a copy of thousands.
 */
const ENTRIES_PER_TURN = 256;

/**
 * A faithful copy of `src` (file, symlink, special file or whole directory tree) at `dst`, which must not
 * exist. Everything is created exclusively, so nothing existing is written into and a symlink planted at
 * `dst` is refused, not followed. Source symlinks are copied, never followed. Hard links inside the tree
 * stay hard links. Folders' times are set last, for the whole tree at once (their children change them);
 * the addon (copy_entry.c) sets a leaf's as it makes it. Calls step 'copy:entry' before each entry. On
 * failure the partial copy is left for the caller, who knows whether removing it is safe.
 */
export async function copyTree(src: HostPath, dst: HostPath, opts: CopyOptions = {}): Promise<CopyResult> {
  const ctx: CopyContext = {
    hooks: opts.hooks,
    asRoot: process.getuid?.() === 0,
    self: { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 },
    times: new TimesBatch(),
    native: opts.useAddon === false ? null : copyEntryBinding(),
    out: new BigUint64Array(3),
    noClone: false,
    links: new Map(),
    sinceYield: 0,
    result: { files: [], dirs: [], entries: 0, bytes: 0n },
  };
  const st = lstat(src);
  if (st.isDirectory()) await copyDir(src, dst, st, ctx);
  else if (ctx.native !== null) await copyLeafNative(ctx.native, src, dst, ctx, false);
  else await copyLeaf(src, dst, st, ctx, false);
  await ctx.times.flush();
  return ctx.result;
}

/** One non-directory entry, metadata and times included (what place() needs for its copy fallback). */
export async function copyEntry(src: HostPath, dst: HostPath, opts: { hooks?: StepHooks } = {}): Promise<CopyResult> {
  return copyTree(src, dst, { hooks: opts.hooks });
}

/**
 * Children in name order, files before subfolders (so a folder's entries are created while its listing
 * is fresh), one at a time: cp -a's order. Concurrent copies through the thread pool cost more CPU in
 * wake-ups than the few microseconds each call takes, and on two cores did not finish sooner.
 */
async function copyDir(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext): Promise<void> {
  await step(ctx.hooks, 'copy:entry', { path: dst });
  // Owner-only until the end: children can be created whatever the final mode, and nobody else can
  // look into a half-made directory.
  try {
    mkdirSync(dst, { mode: 0o700 });
  } catch (err) {
    throw fsError('create directory', err, dst);
  }
  ctx.result.dirs.push(dst);
  ctx.result.entries++;
  if (ctx.native !== null) await copyChildrenNative(ctx.native, src, dst, ctx);
  else await copyChildren(src, dst, ctx);
  applyOwnerModeXattrsSync(dst, st, readXattrsSync(src, false), { asRoot: ctx.asRoot });
  ctx.times.add(dst, st);
}

async function copyChildren(src: HostPath, dst: HostPath, ctx: CopyContext): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(src).sort();
  } catch (err) {
    throw fsError('read directory', err, src);
  }
  const subdirs: Array<[string, BigIntStats]> = [];
  for (const name of names) {
    const s = hostJoin(src, name);
    const childSt = lstat(s);
    if (childSt.isDirectory()) subdirs.push([name, childSt]);
    else await copyLeaf(s, hostJoin(dst, name), childSt, ctx, true);
  }
  for (const [name, childSt] of subdirs) await copyDir(hostJoin(src, name), hostJoin(dst, name), childSt, ctx);
}

/** The same order through the addon: the listing's types say which children are folders, so none is stat'ed twice. */
async function copyChildrenNative(native: CopyEntryBinding, src: HostPath, dst: HostPath, ctx: CopyContext): Promise<void> {
  let entries: Dirent[];
  try {
    entries = readdirSync(src, { withFileTypes: true });
  } catch (err) {
    throw fsError('read directory', err, src);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const subdirs: string[] = [];
  for (const e of entries) {
    if (e.isDirectory()) subdirs.push(e.name);
    // A folder that replaced a listed file is reported, not copied: it is copied as a folder below.
    else if ((await copyLeafNative(native, hostJoin(src, e.name), hostJoin(dst, e.name), ctx, true)) === 'dir') subdirs.push(e.name);
  }
  for (const name of subdirs) {
    const s = hostJoin(src, name);
    await copyDir(s, hostJoin(dst, name), lstat(s), ctx);
  }
}

/**
 * `inOwnDir`: dst's folder is one this copy made (still 0700, never setgid until the copy ends). The
 * calls are synchronous: on a cached source each takes microseconds, less than a thread pool round trip.
 */
async function copyLeaf(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext, inOwnDir: boolean): Promise<void> {
  await step(ctx.hooks, 'copy:entry', { path: dst });
  if (++ctx.sinceYield >= ENTRIES_PER_TURN) {
    ctx.sinceYield = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  ctx.result.entries++;
  if (st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = ctx.links.get(key);
    if (first !== undefined) {
      try {
        linkSync(first, dst);
      } catch (err) {
        throw fsError('hard-link', err, first, dst);
      }
      return;
    }
    await createLeaf(src, dst, st, ctx, inOwnDir);
    ctx.links.set(key, dst);
    return;
  }
  await createLeaf(src, dst, st, ctx, inOwnDir);
}

async function createLeaf(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext, inOwnDir: boolean): Promise<void> {
  const kind = kindOf(st);
  switch (kind) {
    case 'file':
      copyFileData(src, dst);
      ctx.result.files.push(dst);
      ctx.result.bytes += st.size;
      break;
    case 'symlink':
      copySymlink(src, dst);
      break;
    case 'fifo':
      await made('mkfifo', dst, () => mknod(dst, 0o600, { kind: 'fifo' }));
      break;
    case 'char':
    case 'block': {
      // Node has no mknod(2); coreutils' mknod is that call. Only root may make device nodes.
      const { major, minor } = majorMinor(st.rdev);
      await made('mknod', dst, () => mknod(dst, 0o600, { kind, major, minor }));
      break;
    }
    default:
      throw socketError(src, dst);
  }
  // copyFile gives a regular file its source's mode; other kinds get theirs from chmod as before.
  const freshWithMode = kind === 'file' && inOwnDir ? ctx.self : undefined;
  applyOwnerModeXattrsSync(dst, st, readXattrsSync(src, kind === 'symlink'), { asRoot: ctx.asRoot, freshWithMode });
  ctx.times.add(dst, st);
}

/**
 * copyLeaf in one call to the addon, which makes the entry with the same calls in the same order (owner,
 * mode, xattrs, then its times, at once: nothing touches a leaf's times after it is made). Only a second
 * name of a multiply-linked file comes back here, to be linked to the first one's copy. Answers 'dir'
 * when the entry turned out to be a folder (nothing made).
 */
async function copyLeafNative(native: CopyEntryBinding, src: HostPath, dst: HostPath, ctx: CopyContext, inOwnDir: boolean): Promise<'dir' | undefined> {
  await step(ctx.hooks, 'copy:entry', { path: dst });
  if (++ctx.sinceYield >= ENTRIES_PER_TURN) {
    ctx.sinceYield = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const flags = (ctx.asRoot ? NativeFlag.AsRoot : 0) | (inOwnDir ? NativeFlag.OwnDir : 0) | (ctx.noClone ? NativeFlag.NoClone : 0);
  let kind = nativeCopy(native, src, dst, flags, ctx.out, ctx.self);
  let linkKey: string | undefined;
  if (kind === NativeKind.Linked) {
    linkKey = `${ctx.out[1]}:${ctx.out[2]}`;
    const first = ctx.links.get(linkKey);
    if (first !== undefined) {
      try {
        linkSync(first, dst);
      } catch (err) {
        throw fsError('hard-link', err, first, dst);
      }
      ctx.result.entries++;
      return undefined;
    }
    kind = nativeCopy(native, src, dst, flags | NativeFlag.Force, ctx.out, ctx.self);
  }
  if (kind & CLONE_REFUSED) {
    ctx.noClone = true;
    kind &= ~CLONE_REFUSED;
  }
  if (kind === NativeKind.Dir) return 'dir';
  if (kind === NativeKind.Socket) throw socketError(src, dst);
  ctx.result.entries++;
  if (linkKey !== undefined) ctx.links.set(linkKey, dst);
  if (kind === NativeKind.File) {
    ctx.result.files.push(dst);
    ctx.result.bytes += ctx.out[0];
  }
  return undefined;
}

function socketError(src: HostPath, dst: HostPath): OvermergeError {
  return new OvermergeError('E_FS', `cannot copy ${src}: sockets cannot be copied`, {
    op: 'copy',
    path: src,
    dest: dst,
    hint: 'stop the program that owns the socket and remove it',
  });
}

/**
 * COPYFILE_EXCL makes the destination O_CREAT|O_EXCL (refusing an existing name or a planted symlink);
 * FICLONE asks for a reflink and libuv falls back to copy_file_range, then to read/write. On failure
 * (ENOSPC included) libuv removes the half-written destination itself.
 */
function copyFileData(src: string, dst: string): void {
  try {
    copyFileSync(src, dst, C.COPYFILE_EXCL | C.COPYFILE_FICLONE);
  } catch (err) {
    throw fsError('copy', err, src, dst);
  }
}

/** The target is copied as bytes: never resolved, never re-encoded. */
function copySymlink(src: string, dst: string): void {
  let target: Buffer;
  try {
    target = readlinkSync(src, { encoding: 'buffer' });
  } catch (err) {
    throw fsError('read symlink', err, src);
  }
  try {
    symlinkSync(target, dst);
  } catch (err) {
    throw fsError('create symlink', err, dst);
  }
}

async function made(what: string, dst: HostPath, make: () => Promise<void>): Promise<void> {
  try {
    await make();
  } catch (err) {
    throw fsError(`create (${what})`, err, dst);
  }
}

function lstat(p: string): BigIntStats {
  try {
    return lstatSync(p, { bigint: true });
  } catch (err) {
    throw fsError('stat', err, p);
  }
}
