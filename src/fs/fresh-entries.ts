import { chmodSync, linkSync, lstatSync, lutimesSync, mkdirSync, promises as fsp, readdirSync, readFileSync, type Stats } from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { removeIfPresent, writeDurably } from './atomic-file';
import { applyMeta, createSpecial } from './entries';
import { hostJoin, type HostPath } from './host-path';
import { resolveParentInRoot } from './resolve-in-root';
import { displayRootPath, hostPath, type Root, type RootPath } from './rootpath';

/**
 * Entries made in a root where nothing is yet, never over anything (what a bootstrap lays into an empty
 * folder before any package: merged-/usr links, device nodes, dpkg's empty database). Each is made under
 * its final name only if that name is free — a folder or node by mkdir/mknod/symlink, which fail on an
 * existing name, a file by linking a complete, synced sibling to it — so a crash leaves each entry either
 * absent or whole, and making the set again makes exactly what is missing. Parents are resolved inside
 * the root, as a chroot would (a /var that is a symlink stays inside), and the final name is never
 * followed.
 */
export type FreshEntry =
  | { kind: 'dir'; mode: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'char'; mode: number; major: number; minor: number }
  | { kind: 'file'; mode: number; content: string };

/** What was at the name: made now, or already there (with what it is, for the caller to check). */
export type FreshOutcome = { made: true } | { made: false; found: Stats; target?: string };

export interface FreshOptions {
  /** Seconds since the epoch: the entry's mtime (and atime). */
  mtime: number;
  /** Owner root:root can only be given as root; otherwise the entry is the caller's. */
  asRoot: boolean;
}

export async function makeIfAbsent(root: Root, p: RootPath, e: FreshEntry, o: FreshOptions): Promise<FreshOutcome> {
  const at = await placeFor(root, p);
  const found = lstatOrUndefined(at);
  if (found) return { made: false, found, target: found.isSymbolicLink() ? await fsp.readlink(at) : undefined };
  const meta = { mode: 'mode' in e ? e.mode : 0o777, uid: 0, gid: 0, mtime: o.mtime };
  switch (e.kind) {
    case 'dir':
      try {
        await fsp.mkdir(at, { mode: 0o700 });
      } catch (err) {
        throw fsError('create directory', err, at);
      }
      await applyMeta(at, meta, o.asRoot, false);
      break;
    case 'symlink':
      await createSpecial(at, { type: 'symlink', target: e.target, ...meta }, o.asRoot);
      break;
    case 'char':
      await createSpecial(at, { type: 'char', devmajor: e.major, devminor: e.minor, ...meta }, o.asRoot);
      break;
    case 'file':
      await linkWholeFile(at, e.content, meta, o.asRoot);
      break;
  }
  return { made: true };
}

/**
 * A small file made whole beside its name (`NAME.overmerge-new`, synced), then hard-linked to the name,
 * which fails if anything took the name meanwhile, then the sibling unlinked. A crash leaves at most the
 * sibling, which the next attempt truncates.
 */
async function linkWholeFile(at: HostPath, content: string, meta: { mode: number; uid: number; gid: number; mtime: number }, asRoot: boolean): Promise<void> {
  const side = `${at}.overmerge-new` as HostPath;
  writeDurably(side, Buffer.from(content, 'utf8'), meta.mode);
  await applyMeta(side, meta, asRoot, false);
  try {
    linkSync(side, at);
  } catch (err) {
    throw fsError('link', err, side, at);
  } finally {
    removeIfPresent(side);
  }
}

/** The folder a root is made in (its parent exists): 0755 whatever the umask, as debootstrap and mmdebstrap leave it. */
export function makeRootFolder(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
  } catch (err) {
    throw fsError('create directory', err, dir);
  }
}

/** Removes the regular file at `p` if it holds exactly `content` (one of ours); anything else stays. */
export async function removeFileIfContent(root: Root, p: RootPath, content: string): Promise<boolean> {
  const at = await placeFor(root, p);
  const st = lstatOrUndefined(at);
  if (!st?.isFile() || st.size !== Buffer.byteLength(content)) return false;
  let now: string;
  try {
    now = readFileSync(at, 'utf8');
  } catch (err) {
    throw fsError('read', err, at);
  }
  if (now !== content) return false;
  return removeIfPresent(at);
}

/**
 * Takes back a directory symlink `link` → `dir` and the directory itself when the directory is empty
 * (the merged-/usr links no package needed). The link goes first: a crash between the two leaves an empty
 * directory, which the next attempt removes.
 */
export async function removeLinkToEmptyDir(root: Root, link: RootPath, dir: RootPath, target: string): Promise<boolean> {
  const linkAt = await placeFor(root, link);
  const dirAt = await placeFor(root, dir);
  const d = lstatOrUndefined(dirAt);
  if (d !== undefined && (!d.isDirectory() || (await entriesOf(dirAt)).length > 0)) return false;
  const l = lstatOrUndefined(linkAt);
  if (l?.isSymbolicLink() && (await fsp.readlink(linkAt)) === target) removeIfPresent(linkAt);
  if (d === undefined) return false;
  try {
    await fsp.rmdir(dirAt);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT') return true;
    if (errno === 'ENOTEMPTY' || errno === 'EEXIST') return false;
    throw fsError('remove directory', err, dirAt);
  }
  return true;
}

/**
 * Sets the times of every entry of the root touched at or after `since` (seconds) to `to` — the
 * SOURCE_DATE_EPOCH clamp reproducible builds use — never following a symlink, never leaving the root's
 * filesystem, skipping `except` (and what is beneath). Returns how many entries it set.
 *
 * Synchronous: it runs after everything else, and a bootstrap sets the times of all its entries (6,700
 * for minbase + apt), where one thread-pool round trip each (fs.promises) took 170 ms, several times the
 * calls' own work.
 */
export async function clampTimes(root: Root, since: number, to: number, except: readonly RootPath[]): Promise<number> {
  const skip = new Set(except.map((p) => hostPath(root, p)));
  const dev = lstatSync(root.host).dev;
  let n = 0;
  const visit = (at: HostPath): void => {
    if (skip.has(at)) return;
    const st = lstatOrUndefined(at);
    if (!st || st.dev !== dev) return;
    if (st.isDirectory()) for (const name of namesIn(at)) visit(hostJoin(at, name));
    if (st.mtimeMs / 1000 >= since) {
      try {
        lutimesSync(at, to, to);
      } catch (err) {
        throw fsError('set times of', err, at);
      }
      n++;
    }
  };
  visit(root.host);
  return n;
}

async function placeFor(root: Root, p: RootPath): Promise<HostPath> {
  const { parent, name } = await resolveParentInRoot(root, p);
  const dir = hostPath(root, parent);
  const st = lstatOrUndefined(dir);
  if (!st?.isDirectory()) {
    throw new OvermergeError('E_FS', `cannot make ${displayRootPath(p)}: its folder ${displayRootPath(parent)} is missing`, { op: 'bootstrap', path: dir });
  }
  return hostJoin(dir, name);
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError('inspect', err, p);
  }
}

function namesIn(dir: HostPath): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw fsError('read directory', err, dir);
  }
}

async function entriesOf(dir: HostPath): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    throw fsError('read directory', err, dir);
  }
}
