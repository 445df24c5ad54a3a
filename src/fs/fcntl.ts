import { constants as osConstants } from 'node:os';
import { loadNative } from '../native';
import { addonPath } from './own-addon';

/**
 * fcntl(2) record locks, through the project's own native module (src/fs/native/fcntl_lock.c): Node has
 * no fcntl, and the npm bindings that have one either take flock(2) locks, which never conflict with
 * dpkg's fcntl locks on Linux, or open file description locks, which cannot name their holder. See the
 * README's dependency notes.
 *
 * Only whole-file locks exist here (l_whence SEEK_SET, l_start 0, l_len 0), the kind dpkg and apt take.
 */

export type LockKind = 'read' | 'write';

/** What F_GETLK reports about the lock that stands in the way. */
export type Conflict =
  | { kind: 'none' }
  /**
   * `pid` as the kernel translates it into our PID namespace: 0 when the holder is in one we cannot see,
   * -1 for an open file description (OFD) lock, which belongs to no process.
   */
  | { kind: LockKind; pid: number };

interface Binding {
  setlk(fd: number, kind: number): number;
  getlk(fd: number, kind: number): [errno: number, kind: number, pid: number];
}

/** Where `npm ci` (the package's install script, node-gyp) leaves the module, seen from dist/src/fs. */
export const NATIVE_MODULE = addonPath('fcntl_lock');

const KIND_NUMBER: Record<LockKind | 'unlock', number> = { unlock: 0, read: 1, write: 2 };

/**
 * Loads the native module at `file`. Loaded on first use, not at start-up, so the commands that never
 * lock (list, contents, build, ...) work even where it was not built; later calls hit require's cache.
 */
export function loadBinding(file: string = NATIVE_MODULE): Binding {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return loadNative('fcntl-lock', () => require(file) as Binding);
}

/**
 * F_SETLK over the whole file: true when set, false when another process holds a conflicting lock (EAGAIN
 * or EACCES: POSIX allows either). Never waits (that would block the event loop); any other failure throws
 * a Node-style error.
 */
export function setLock(fd: number, kind: LockKind | 'unlock'): boolean {
  const errno = loadBinding().setlk(fd, KIND_NUMBER[kind]);
  if (errno === 0) return true;
  if (errno === osConstants.errno.EAGAIN || errno === osConstants.errno.EACCES) return false;
  throw errnoError(errno, 'fcntl(F_SETLK)');
}

/** F_GETLK over the whole file: the lock that would refuse `kind`, if any. This process's own never show. */
export function conflict(fd: number, kind: LockKind): Conflict {
  const [errno, k, pid] = loadBinding().getlk(fd, KIND_NUMBER[kind]);
  if (errno !== 0) throw errnoError(errno, 'fcntl(F_GETLK)');
  if (k === 0) return { kind: 'none' };
  return { kind: k === 1 ? 'read' : 'write', pid };
}

/** An error shaped like Node's own system errors (`code`, `errno`, `syscall`), so `fsError` reads it. */
function errnoError(errno: number, syscall: string): Error {
  const code = Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0] ?? `E${errno}`;
  return Object.assign(new Error(`${code}: ${syscall} failed`), { code, errno: -errno, syscall });
}

