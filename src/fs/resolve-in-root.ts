import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { OvermergeError, errnoOf, fsError } from '../errors';
import { baseName, componentsOf, displayRootPath, hostPath, isRootPath, LIMITS, parentOf, quoteName, type Root, type RootPath } from './rootpath';

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
  const walked = walk(root, p, options.followFinal);
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
  const walked = walk(root, parentOf(p), true);
  if (walked.kind === 'other') throw notADirectory(p, walked.path);
  return { parent: walked.path, name: baseName(p) };
}

type Kind = 'dir' | 'other' | 'missing';

interface Walked {
  path: RootPath;
  /** What the last component is: a directory (or the root), anything else, or not there. */
  kind: Kind;
}

function walk(root: Root, p: RootPath, followFinal: boolean): Walked {
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
    const st = lstatOrUndefined(root, here, p);
    if (st === undefined) {
      missingFrom = parts.length;
      parts.push(c);
      kind = 'missing';
      continue;
    }
    const isFinal = pending.length === 0;
    if (st.isSymbolicLink() && (followFinal || !isFinal)) {
      if (++links > LIMITS.symlinks) throw tooManyLinks(p, here);
      const target = readlinkIn(root, here, p);
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

/**
 * Synchronous, as the probe's own lstat (probe.ts): each component of each path resolved is one call on
 * the dentry cache, a few microseconds, where a thread-pool round trip costs ten times that in CPU (a
 * bootstrap resolves the parents of its transactions' paths again and again: 0.2 s of its main thread).
 */
function lstatOrUndefined(root: Root, here: RootPath, p: RootPath): Stats | undefined {
  try {
    return lstatSync(hostPath(root, here), { throwIfNoEntry: false });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    if (errnoOf(err) === 'ENOTDIR') throw notADirectory(p, parentOf(here));
    throw resolveError(err, p);
  }
}

function readlinkIn(root: Root, here: RootPath, p: RootPath): string {
  try {
    return readlinkSync(hostPath(root, here));
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
