import { OvermergeError } from '../errors';
import { atomicWrite, readIfPresent, removeIfPresent } from '../fs/atomic-file';
import { ensureFoldersSync } from '../fs/entries';
import { hostJoin, type HostPath } from '../fs/host-path';
import type { Root } from '../fs/rootpath';
import { ADMIN_DIR } from '../engine/admin-dir';

/**
 * The note that a folder holds a bootstrap in progress: written (durably) before the bootstrap changes
 * anything else, removed after its last step. While it is there, `bootstrap` with the same package set
 * continues where the folder is; without it, a non-empty folder is refused. It records what cannot be
 * read back from the root: the set it was started with, when it started (the SOURCE_DATE_EPOCH clamp
 * touches what changed since), and whether the Essential set's files were laid down (they belong to no
 * package until their packages are installed, so no database says so).
 */
export interface Marker {
  version: 1;
  /** setIdentity() of the package set. */
  set: string[];
  /** Seconds since the epoch, when the first attempt started. */
  started: number;
  /** The Essential set's files are in the root (phase A done). */
  extracted: boolean;
}

const NAME = 'bootstrap';

function markerPath(root: Root): HostPath {
  return hostJoin(root.host, ...ADMIN_DIR.split('/'), NAME);
}

export function readMarker(root: Root): Marker | undefined {
  const file = markerPath(root);
  const data = readIfPresent(file);
  if (data === null) return undefined;
  let m: Partial<Marker>;
  try {
    m = JSON.parse(data.toString('utf8')) as Partial<Marker>;
  } catch {
    m = {};
  }
  if (m.version !== 1 || !Array.isArray(m.set) || typeof m.started !== 'number' || typeof m.extracted !== 'boolean') {
    throw new OvermergeError('E_STATE', `${file} is not a bootstrap note overmerge can read`, {
      op: 'bootstrap',
      path: file,
      hint: 'start again in an empty folder',
    });
  }
  return m as Marker;
}

export function writeMarker(root: Root, m: Marker): void {
  // The admin folder as the engine makes it (0755 whatever the umask; refusing a symlink on the way).
  ensureFoldersSync(root.host, ADMIN_DIR.split('/'), 0o755, (dir) =>
    new OvermergeError('E_UNSAFE_PATH', `${dir} is not a directory; refusing to use it as overmerge's admin folder`, { op: 'bootstrap', path: dir }),
  );
  atomicWrite(markerPath(root), Buffer.from(`${JSON.stringify(m, null, 1)}\n`, 'utf8'));
}

export function removeMarker(root: Root): void {
  removeIfPresent(markerPath(root));
}
