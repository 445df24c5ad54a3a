import { promises as fsp } from 'node:fs';
import { OvermergeError, fsError } from '../errors';
import type { Layers } from './layers';

/** statfs f_type of tmpfs (linux/magic.h TMPFS_MAGIC). */
export const TMPFS_MAGIC = 0x01021994;

/** Room left in an overlay's upper layer: statfs of its filesystem. */
export interface UpperFree {
  /** Bytes an unprivileged writer may still use (f_bavail × f_bsize), as overmerge's other space checks count. */
  available: number;
  /** Bytes free, the root-reserved blocks included (f_bfree × f_bsize). */
  free: number;
  blockSize: number;
  /** statfs f_type: which filesystem holds the upper layer (tmpfs keeps small directories in no blocks). */
  fsType: number;
  /** Free inodes (f_ffree); tmpfs and ext4 can run out of these before they run out of bytes. */
  inodesFree: number;
  /**
   * Whose statfs this is: the upper folder's own, or — when that folder cannot be reached from this mount
   * namespace — the merged root's, which overlayfs answers with the upper filesystem's numbers.
   */
  source: 'upperdir' | 'merged';
  /** Why the upper folder could not be used, when it could not. */
  upperUnreachable?: string;
}

/**
 * statfs of the upper layer's filesystem. mountinfo names the upper folder as the mounting process saw it,
 * so it may not exist here (another mount namespace, a chroot): then the merged root stands in, and
 * `upperUnreachable` says why. An overlay without an upper layer has no room at all: that is an error.
 */
export async function upperFreeSpace(rootHost: string, layers: Pick<Layers, 'upper'>): Promise<UpperFree> {
  const upper = layers.upper;
  if (!upper) {
    throw new OvermergeError('E_FS', `the overlay under ${rootHost} has no upper layer: nothing can be written to it`, { op: 'check space', path: rootHost });
  }
  const source = upper.reachable ? upper.path : rootHost;
  let st: Awaited<ReturnType<typeof fsp.statfs>>;
  try {
    st = await fsp.statfs(source);
  } catch (err) {
    throw fsError('read free space of', err, source);
  }
  return {
    available: Number(st.bavail) * Number(st.bsize),
    free: Number(st.bfree) * Number(st.bsize),
    blockSize: Number(st.bsize),
    fsType: Number(st.type),
    inodesFree: Number(st.ffree),
    source: upper.reachable ? 'upperdir' : 'merged',
    ...(upper.reachable ? {} : { upperUnreachable: `${upper.path}: ${upper.why}` }),
  };
}
