import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { OvermergeError, fsError } from '../errors';
import { hostPathOf, type HostPath } from './host-path';

/**
 * A path inside the root, relative to it: components joined by '/', none empty, '.' or '..', no leading '/'.
 * The root itself is ''. Only this module turns one into a host path (see hostPath), so a path that came
 * out of an archive can never be joined to the root by accident.
 */
export type RootPath = string & { readonly __brand: 'RootPath' };

/** The folder being installed into. `host` is absolute and already realpath'd. */
export interface Root {
  readonly host: HostPath;
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
  return Object.freeze({ host: hostPathOf(host) });
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
  // No component that is empty, '.' or '..' (one regular expression: no array of components per call).
  return !BAD_COMPONENT.test(s);
}

/** A component of a slash-separated path that is empty, '.' or '..'. */
const BAD_COMPONENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** The host path of `p` inside `root`: the only place a root and a path are joined. */
export function hostPath(root: Root, p: RootPath): HostPath {
  if (!isRootPath(p)) {
    throw new OvermergeError('E_INTERNAL', `not a root path: ${quoteName(p)}`, { op: 'host path', path: p });
  }
  // path.join(root.host, p) without normalizing again at every call (a bootstrap makes hundreds of
  // thousands): a root path has no empty, '.' or '..' component, so a normal absolute host path (as
  // resolveHostPath makes) and a slash are all there is to join.
  if (p === '') return root.host;
  const host = root.host;
  if (host === '/') return `/${p}` as HostPath;
  return (host.startsWith('/') && !host.endsWith('/') && !UNNORMAL_HOST.test(host) ? `${host}/${p}` : path.join(host, p)) as HostPath;
}

/** A part of a host path that path.normalize would change: an empty, '.' or '..' component. */
const UNNORMAL_HOST = /\/\/|\/\.\.?(?:\/|$)/;

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

/** The path as dpkg prints it: `/usr/bin/x`, and `/.` for the root. */
export function displayPath(p: RootPath): string {
  return p === '' ? '/.' : `/${p}`;
}

/** A sibling name in the same directory: `usr/x` + `.dpkg-dist` → `usr/x.dpkg-dist`. */
export function withSuffix(p: RootPath, suffix: string): RootPath {
  if (p === '' || suffix.includes('/') || suffix.includes('\0')) {
    throw new OvermergeError('E_INTERNAL', `cannot add ${quoteName(suffix)} to ${quoteName(p)}`, { op: 'name sibling', path: p });
  }
  return (p + suffix) as RootPath;
}

export function depthOf(p: RootPath): number {
  if (p === '') return 0;
  let n = 1;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

/** True when `p` lies strictly beneath directory `dir`. */
export function isBeneath(p: RootPath, dir: RootPath): boolean {
  if (dir === '') return p !== '';
  return p.length > dir.length + 1 && p.startsWith(dir) && p.charCodeAt(dir.length) === 47;
}

/** The folders `p` lies in, outermost first, the root itself left out: `a`, `a/b` for `a/b/c`. */
export function* foldersOf(p: RootPath): Generator<RootPath> {
  for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) yield p.slice(0, i) as RootPath;
}

/** The ancestors of `p` from its parent up to the root (''), nearest first. */
export function* ancestorsOf(p: RootPath): Generator<RootPath> {
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) yield p.slice(0, i) as RootPath;
  if (p !== '') yield ROOT_ITSELF;
}

/** Shallow paths first, then lexical: parents always precede their children. */
export function compareShallowFirst(a: RootPath, b: RootPath): number {
  return depthOf(a) - depthOf(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Deep paths first: children always precede their parents. */
export function compareDeepFirst(a: RootPath, b: RootPath): number {
  return -compareShallowFirst(a, b);
}

/**
 * A path read back from overmerge's own records (the database, a snapshot), which only ever hold root
 * paths: checked, not trusted, so a damaged record cannot name a path outside the root.
 */
export function recordedRootPath(s: string): RootPath {
  if (!isRootPath(s)) {
    throw new OvermergeError('E_DB', `recorded path ${quoteName(s)} is not a path inside the root`, { op: 'read record', path: s });
  }
  return s;
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
