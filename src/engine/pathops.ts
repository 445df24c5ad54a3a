import type { RootPath } from '../fs/rootpath';

/**
 * Pure operations on root-relative paths (no root is involved, so these never touch the host). RootPath
 * values are normalised: no leading '/', no '.', '..' or empty components; the root itself is ''.
 */

export function parentOf(p: RootPath): RootPath {
  const i = p.lastIndexOf('/');
  return (i < 0 ? '' : p.slice(0, i)) as RootPath;
}

export function baseName(p: RootPath): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** A sibling name in the same directory: `usr/x` + `.dpkg-dist` → `usr/x.dpkg-dist`. */
export function withSuffix(p: RootPath, suffix: string): RootPath {
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

/** Shallow paths first, then lexical: parents always precede their children. */
export function compareShallowFirst(a: RootPath, b: RootPath): number {
  return depthOf(a) - depthOf(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Deep paths first: children always precede their parents. */
export function compareDeepFirst(a: RootPath, b: RootPath): number {
  return -compareShallowFirst(a, b);
}

/** The path as dpkg prints it: `/usr/bin/x`, and `/.` for the root. */
export function displayPath(p: RootPath): string {
  return p === '' ? '/.' : `/${p}`;
}
