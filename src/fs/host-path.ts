import * as path from 'node:path';
import { OvermergeError } from '../errors';

/**
 * A path on the host: absolute and normalised. The other kind of path, RootPath, is relative to a root and
 * only becomes a HostPath through rootpath's hostPath(root, p); keeping the two as distinct types means a
 * path out of an archive can never be handed to a write by mistake, and a host path never to the planner.
 * Every write primitive of src/fs takes a HostPath.
 */
export type HostPath = string & { readonly __brand: 'HostPath' };

/** Checks that `p` is already absolute and normalised (what the journal and the host give back). */
export function hostPathOf(p: string): HostPath {
  if (!path.isAbsolute(p) || path.normalize(p) !== p || (p.length > 1 && p.endsWith('/')) || p.includes('\0')) {
    throw new OvermergeError('E_INTERNAL', `not an absolute, normalised host path: ${JSON.stringify(p)}`, { op: 'host path', path: p });
  }
  return p as HostPath;
}

/** A path the user gave (relative to the working folder, or absolute), made absolute. */
export function resolveHostPath(p: string): HostPath {
  return path.resolve(p) as HostPath;
}

/** `base/name…` for names overmerge chooses or reads from a folder (never '..', never absolute). */
export function hostJoin(base: HostPath, ...names: string[]): HostPath {
  // One plain name from a listing (the common case, once per entry of a copy or a removal): base is
  // already normalised, so a slash between them is what path.join would give, at a fraction of its cost.
  if (names.length === 1) {
    const n = names[0];
    if (n !== '' && n !== '.' && n !== '..' && !n.includes('/')) return (base === '/' ? `/${n}` : `${base}/${n}`) as HostPath;
  }
  for (const n of names) {
    if (n === '' || n === '.' || n === '..' || n.startsWith('/') || n.split('/').includes('..')) {
      throw new OvermergeError('E_INTERNAL', `cannot join ${JSON.stringify(n)} to ${base}`, { op: 'host path', path: base });
    }
  }
  return path.join(base, ...names) as HostPath;
}

/**
 * The folder holding `p` (the host's root is its own). A host path is absolute and normalised, so its
 * folder ends at its last slash: found without path.dirname's walk over every character, which a
 * transaction pays several times a file (temporary names, syncs; 1-2 % of a 2,000-file upgrade's CPU).
 */
export function hostDirOf(p: HostPath): HostPath {
  if (p.length > 1 && (p.endsWith('/') || p.startsWith('//'))) return path.dirname(p) as HostPath; // not normalised: dirname's answer
  const slash = p.lastIndexOf('/');
  return (slash <= 0 ? '/' : p.slice(0, slash)) as HostPath;
}
