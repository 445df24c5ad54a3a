import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError, errnoOf, fsError } from '../errors';

/**
 * A path inside the root, relative to it: components joined by '/', none empty, '.' or '..', no leading '/'.
 * The root itself is ''. Only this module turns one into a host path (see hostPath), so a path that came
 * out of an archive can never be joined to the root by accident.
 */
export type RootPath = string & { readonly __brand: 'RootPath' };

/** The folder being installed into. `host` is absolute and already realpath'd. */
export interface Root {
  readonly host: string;
}

/** The root itself. */
export const ROOT_ITSELF = '' as RootPath;

/**
 * Limits on names taken from archives or the command line. NAME_MAX and PATH_MAX are Linux's (PATH_MAX
 * counts the terminating NUL); the depth limit is ours: no real package nests anywhere near it, and it
 * bounds the work a hostile name can cause. MAX_SYMLINKS is the kernel's limit for one resolution.
 */
export const LIMITS = Object.freeze({
  componentBytes: 255,
  pathBytes: 4095,
  depth: 256,
  symlinks: 40,
});

/** Opens a root folder: resolves it to an absolute, symlink-free host path that is a directory. */
export async function openRoot(dir: string): Promise<Root> {
  const absolute = path.resolve(dir);
  let host: string;
  let st: Stats;
  try {
    host = await fsp.realpath(absolute);
    st = await fsp.stat(host);
  } catch (err) {
    throw fsError('open root', err, absolute);
  }
  if (!st.isDirectory()) {
    throw new OvermergeError('E_FS', `cannot open root ${absolute}: not a directory`, {
      op: 'open root',
      path: absolute,
      errno: 'ENOTDIR',
    });
  }
  return Object.freeze({ host });
}

/**
 * The root path for an archive member name (`./usr/bin/x`, `usr/bin/x/`, `./` → '').
 * Refuses, with E_UNSAFE_PATH, names that are empty, absolute, contain '..', NUL or newline, or break the
 * length and depth limits. Absolute names are refused even though dpkg strips their leading slashes:
 * dpkg-deb never writes them, so an archive holding one was made to be read differently by different tools.
 * '..' is refused even where it stays lexically inside (`a/../b`), because through a symlink it need not.
 */
export function memberToRootPath(name: string): RootPath {
  const reason = memberNameProblem(name) ?? pathProblem(name, false);
  if (reason !== undefined) {
    throw new OvermergeError('E_UNSAFE_PATH', `unsafe archive member ${quoteName(name)}: the name ${reason}`, {
      op: 'read archive member',
      path: name,
    });
  }
  return normalise(name);
}

/**
 * A link target of a hard-link member, which names another member: the same rules as a member name.
 * The message names both members.
 */
export function hardLinkTargetToRootPath(member: string, target: string): RootPath {
  const reason = memberNameProblem(target) ?? pathProblem(target, false);
  if (reason !== undefined) {
    throw new OvermergeError(
      'E_UNSAFE_PATH',
      `unsafe hard link ${quoteName(member)} -> ${quoteName(target)}: the target ${reason}`,
      { op: 'read archive member', path: member, dest: target },
    );
  }
  return normalise(target);
}

/**
 * The member name decoded from its raw bytes. Names must be UTF-8: decoding anything else would either fail
 * later or map two different byte names onto one string, so they are refused with E_UNSAFE_PATH.
 */
export function memberNameFromBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const shown = quoteName(Buffer.from(bytes).toString('latin1'));
    throw new OvermergeError('E_UNSAFE_PATH', `unsafe archive member ${shown}: the name is not valid UTF-8`, {
      op: 'read archive member',
    });
  }
}

/**
 * A path given on the command line (`/usr/bin/x` or `usr/bin/x`), meaning that path inside the root.
 * Bad input is a usage error (E_USAGE).
 */
export function parseRootPath(input: string): RootPath {
  const reason = input === '' ? 'is empty' : pathProblem(input, true);
  if (reason !== undefined) {
    throw new OvermergeError('E_USAGE', `invalid path ${quoteName(input)}: the path ${reason}`, {
      op: 'parse path',
      path: input,
    });
  }
  return normalise(input);
}

/** Whether `s` already has the RootPath shape (it does not check length limits; names from disk may be long). */
export function isRootPath(s: string): s is RootPath {
  if (s === '') return true;
  if (s.includes('\0')) return false;
  return s.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

/** The host path of `p` inside `root`: the only place a root and a path are joined. */
export function hostPath(root: Root, p: RootPath): string {
  if (!isRootPath(p)) {
    throw new OvermergeError('E_INTERNAL', `not a root path: ${quoteName(p)}`, { op: 'host path', path: p });
  }
  return p === '' ? root.host : path.join(root.host, p);
}

/** The root path of a host path found by walking the root (e.g. readdir results); refuses one outside it. */
export function rootPathFromHost(root: Root, host: string): RootPath {
  const rel = path.relative(root.host, path.resolve(host));
  if (rel === '') return ROOT_ITSELF;
  if (path.isAbsolute(rel) || rel === '..' || rel.startsWith('../') || !isRootPath(rel)) {
    throw new OvermergeError('E_UNSAFE_PATH', `${host} is not inside the root ${root.host}`, {
      op: 'root path',
      path: host,
    });
  }
  return rel as RootPath;
}

/** `parent/name` for one component `name` (no '/', not '.', '..' or empty). */
export function joinRootPath(parent: RootPath, name: string): RootPath {
  if (!isRootPath(parent) || name.includes('/') || !isRootPath(name) || name === '') {
    throw new OvermergeError('E_INTERNAL', `cannot join ${quoteName(parent)} and ${quoteName(name)}`, {
      op: 'join root path',
      path: parent,
    });
  }
  return (parent === '' ? name : `${parent}/${name}`) as RootPath;
}

/** The parent of `p`; the root's parent is the root. */
export function parentOf(p: RootPath): RootPath {
  const i = p.lastIndexOf('/');
  return (i < 0 ? '' : p.slice(0, i)) as RootPath;
}

/** The last component of `p` ('' for the root). */
export function baseName(p: RootPath): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** The components of `p` (none for the root). */
export function componentsOf(p: RootPath): string[] {
  return p === '' ? [] : p.split('/');
}

/** How a root path reads in messages: as an absolute path inside the root. */
export function displayRootPath(p: RootPath): string {
  return `/${p}`;
}

export interface ResolveOptions {
  /** Follow a symlink in the final component too (stat-like); otherwise it is returned as is (lstat-like). */
  followFinal: boolean;
}

/**
 * Resolves `p` as if the process were chrooted into `root`: symlinks met on the way are followed inside the
 * root (absolute targets start again at the root, '..' at the root stays there), components that do not
 * exist yet are appended as written. This gives dpkg's behaviour of installing through directory symlinks the
 * root already has (`lib -> usr/lib` receives `lib/x` at `usr/lib/x`) without ever reaching the host, which
 * `dpkg --root` does for absolute links. A non-directory in a parent position is E_FS (ENOTDIR); more than
 * LIMITS.symlinks links in one resolution is E_FS (ELOOP).
 *
 * The answer is only as good as the moment it was computed: writers must still create with O_EXCL /
 * O_NOFOLLOW under temporary names, because the tree can change between here and the write.
 */
export async function resolveInRoot(root: Root, p: RootPath, options: ResolveOptions): Promise<RootPath> {
  const walked = await walk(root, p, options.followFinal);
  return walked.path;
}

/**
 * The resolved parent directory of `p` (every symlink in it followed inside the root) and `p`'s final name,
 * for operations that act on a name inside a directory (create, rename, unlink). The parent must be a
 * directory or not exist yet.
 */
export async function resolveParentInRoot(root: Root, p: RootPath): Promise<{ parent: RootPath; name: string }> {
  if (p === '') {
    throw new OvermergeError('E_UNSAFE_PATH', 'refusing to replace the root itself (/)', {
      op: 'resolve',
      path: '/',
    });
  }
  const walked = await walk(root, parentOf(p), true);
  if (walked.kind === 'other') throw notADirectory(p, walked.path);
  return { parent: walked.path, name: baseName(p) };
}

type Kind = 'dir' | 'other' | 'missing';

interface Walked {
  path: RootPath;
  /** What the last component is: a directory (or the root), anything else, or not there. */
  kind: Kind;
}

async function walk(root: Root, p: RootPath, followFinal: boolean): Promise<Walked> {
  if (!isRootPath(p)) {
    throw new OvermergeError('E_INTERNAL', `not a root path: ${quoteName(p)}`, { op: 'resolve', path: p });
  }
  // `pending` is a stack (last element next) so a link's target can be pushed in front of the rest.
  const pending = componentsOf(p).reverse();
  const parts: string[] = [];
  let kind: Kind = 'dir';
  // Index in `parts` of the first component that does not exist; everything from there on is lexical.
  let missingFrom = -1;
  let links = 0;
  while (pending.length > 0) {
    const c = pending.pop() as string;
    if (kind === 'other') throw notADirectory(p, parts.join('/') as RootPath);
    if (c === '' || c === '.') continue;
    if (c === '..') {
      parts.pop();
      if (missingFrom >= parts.length) missingFrom = -1;
      kind = missingFrom === -1 ? 'dir' : 'missing';
      continue;
    }
    if (missingFrom !== -1) {
      parts.push(c);
      continue;
    }
    const here = [...parts, c].join('/') as RootPath;
    const st = await lstatOrUndefined(root, here, p);
    if (st === undefined) {
      missingFrom = parts.length;
      parts.push(c);
      kind = 'missing';
      continue;
    }
    const isFinal = pending.length === 0;
    if (st.isSymbolicLink() && (followFinal || !isFinal)) {
      if (++links > LIMITS.symlinks) throw tooManyLinks(p, here);
      const target = await readlinkIn(root, here, p);
      if (target.startsWith('/')) parts.length = 0;
      pending.push(...target.split('/').reverse());
      kind = 'dir';
      continue;
    }
    parts.push(c);
    kind = st.isDirectory() ? 'dir' : 'other';
  }
  return { path: parts.join('/') as RootPath, kind };
}

async function lstatOrUndefined(root: Root, here: RootPath, p: RootPath): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(hostPath(root, here));
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    if (errnoOf(err) === 'ENOTDIR') throw notADirectory(p, parentOf(here));
    throw resolveError(err, p);
  }
}

async function readlinkIn(root: Root, here: RootPath, p: RootPath): Promise<string> {
  try {
    return await fsp.readlink(hostPath(root, here));
  } catch (err) {
    throw resolveError(err, p);
  }
}

function resolveError(err: unknown, p: RootPath): OvermergeError {
  const inner = fsError('resolve', err, displayRootPath(p));
  return new OvermergeError(inner.code, `${inner.message} (inside the root)`, {
    op: 'resolve',
    path: displayRootPath(p),
    errno: inner.errno,
    cause: err,
  });
}

function notADirectory(p: RootPath, at: RootPath): OvermergeError {
  return new OvermergeError(
    'E_FS',
    `cannot resolve ${displayRootPath(p)} inside the root: ${displayRootPath(at)} is not a directory`,
    { op: 'resolve', path: displayRootPath(p), errno: 'ENOTDIR' },
  );
}

function tooManyLinks(p: RootPath, at: RootPath): OvermergeError {
  const where = `at ${displayRootPath(at)}`;
  return new OvermergeError(
    'E_FS',
    `cannot resolve ${displayRootPath(p)} inside the root: too many levels of symbolic links (${where})`,
    { op: 'resolve', path: displayRootPath(p), errno: 'ELOOP' },
  );
}

/** Problems of a raw member name that normalising cannot express. */
function memberNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  // dpkg refuses these too: its file lists are newline-separated.
  if (name.includes('\n')) return 'contains a newline';
  return undefined;
}

/** Why `input` cannot be a root path, or undefined. Leading slashes are fine only if `allowAbsolute`. */
function pathProblem(input: string, allowAbsolute: boolean): string | undefined {
  if (input.includes('\0')) return 'contains a NUL byte';
  if (!allowAbsolute && input.startsWith('/')) return 'is an absolute path';
  const parts = input.split('/');
  if (parts.includes('..')) return "contains a '..' component";
  const kept = parts.filter((c) => c !== '' && c !== '.');
  if (kept.length > LIMITS.depth) return `is nested ${kept.length} levels deep (the limit is ${LIMITS.depth})`;
  const long = kept.find((c) => Buffer.byteLength(c) > LIMITS.componentBytes);
  if (long !== undefined) {
    return `has a component ${Buffer.byteLength(long)} bytes long (the limit is ${LIMITS.componentBytes})`;
  }
  const bytes = Buffer.byteLength(kept.join('/'));
  if (bytes > LIMITS.pathBytes) return `is ${bytes} bytes long (the limit is ${LIMITS.pathBytes})`;
  return undefined;
}

function normalise(input: string): RootPath {
  return input
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .join('/') as RootPath;
}

/** A name as it can be shown on one line: control bytes escaped, very long names shortened in the middle. */
export function quoteName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = name.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const shown = escaped.length > 200 ? `${escaped.slice(0, 120)}...${escaped.slice(-60)}` : escaped;
  return `'${shown}'`;
}
