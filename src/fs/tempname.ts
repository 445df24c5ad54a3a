import { randomBytes } from 'node:crypto';
import { OvermergeError } from '../errors';
import { hostDirOf, hostJoin, type HostPath } from './host-path';

/**
 * Temporary names live in the same directory as the path they stand in for, so every rename between them
 * stays on one filesystem, and they are recognisable so that recovery (or a human) can tell them from
 * package files: `.overmerge-<kind>-<id>`.
 */
export const TEMP_PREFIX = '.overmerge-';

export type TempKind =
  | 'aside' // a moved-aside original (complete backup)
  | 'incomplete' // a copy fallback still being written
  | 'pending' // a complete copy whose original is being removed
  | 'trash' // a backup being discarded
  | 'new'; // a file being placed, before its final rename

const TEMP_NAME = /^\.overmerge-(aside|incomplete|pending|trash|new)-([0-9a-f]{12})$/;

/**
 * 48 random bits: collisions are refused by O_EXCL/EEXIST anyway, this only makes them unlikely. Drawn
 * from a pool filled 4 KiB at a time: a transaction names a temporary or two per file, and a call into
 * the CSPRNG for each 6 bytes cost more than the rest of naming (6 % of a 2,000-file upgrade's profile).
 */
export function newTempId(): string {
  if (pool.used + ID_BYTES > pool.bytes.length) {
    pool.bytes = randomBytes(POOL_BYTES);
    pool.used = 0;
  }
  const id = pool.bytes.toString('hex', pool.used, pool.used + ID_BYTES);
  pool.used += ID_BYTES;
  return id;
}

const ID_BYTES = 6;
const POOL_BYTES = 4096;
/** Random bytes not handed out yet; each byte is used once. */
const pool = { bytes: Buffer.alloc(0), used: 0 };

/** The temporary sibling of `target` of the given kind. */
export function tempSibling(target: HostPath, kind: TempKind, id: string): HostPath {
  if (!/^[0-9a-f]{12}$/.test(id)) {
    throw new OvermergeError('E_INTERNAL', `bad temporary id ${JSON.stringify(id)}`, { op: 'name temporary' });
  }
  return hostJoin(hostDirOf(target), `${TEMP_PREFIX}${kind}-${id}`);
}

/** Recognises a temporary name made by tempSibling (a base name, not a path). */
export function parseTempName(name: string): { kind: TempKind; id: string } | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? { kind: m[1] as TempKind, id: m[2] } : undefined;
}

/**
 * movefile acts only on absolute, normalised host paths that name something below `/`: a relative path
 * would depend on the process's cwd, and `..` or a trailing slash would make "the same directory" ambiguous.
 */
export function assertHostPath(p: string, op: string): void {
  if (!isNormalAbsolute(p)) {
    throw new OvermergeError('E_INTERNAL', `cannot ${op} ${JSON.stringify(p)}: not an absolute normalised path`, {
      op,
      path: p,
    });
  }
}

/**
 * An absolute path that path.normalize leaves as it is, other than `/` and without a trailing slash: no
 * empty, `.` or `..` segment. Checked with one regular expression rather than a normalised copy: every
 * step's host paths are checked as it is journaled (twice each of 6,000 in a bootstrap's extraction).
 */
export function isNormalAbsolute(p: string): boolean {
  return p.length > 1 && p.charCodeAt(0) === SLASH && p.charCodeAt(p.length - 1) !== SLASH && !NOT_NORMAL.test(p);
}

const SLASH = 0x2f;
/** An empty segment, or a `.` or `..` segment. */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)/;
