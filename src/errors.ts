/**
 * One error type for everything overmerge refuses or fails at. The CLI prints `overmerge: <message>` for
 * it (no stack), so the message must name the file or path and the problem on its own.
 */
export type ErrorCode =
  | 'E_USAGE' // bad command line (exit 2)
  | 'E_BAD_ARCHIVE' // not a deb, truncated, corrupt compression, bad tar
  | 'E_BAD_CONTROL' // control data missing or invalid
  | 'E_BAD_VERSION'
  | 'E_UNSAFE_PATH' // a member or path that would leave the root
  | 'E_CONFLICT' // a path owned by another package
  | 'E_RELATIONS' // package relations refuse the transaction (Depends, Pre-Depends, Conflicts, Breaks, Essential)
  | 'E_NOT_INSTALLED'
  | 'E_STATE' // a package is not in the state the command needs (configure an installed one)
  | 'E_LOCKED'
  | 'E_UNFINISHED' // a transaction needs `recover`
  | 'E_NO_SPACE'
  | 'E_UPPER_SPACE' // an overlay root's upper layer has no room for what the transaction would write there
  | 'E_EXDEV_FALLBACK_FAILED'
  | 'E_FS' // any other filesystem failure
  | 'E_DB'
  | 'E_NOT_OVERLAY' // an overlay command on a root that is not on an overlay mount
  | 'E_LAYER_UNREACHABLE' // an overlay layer folder that this mount namespace cannot see
  | 'E_DPKG_DB' // dpkg's admin directory (status, updates/, info/, diversions, ...) unreadable or inconsistent
  | 'E_NATIVE' // a native addon (better-sqlite3, fs-xattr, lzma-native, zstd-napi) not built for this Node
  | 'E_CANNOT_ROLLBACK'
  | 'E_DATA_LOSS' // overlay reconcile: data the reconciled layers would no longer hold (it lived in the replaced lower)
  | 'E_MOUNTED' // overlay reconcile: a layer is in use by a mounted overlay
  | 'E_SCRIPT_FAILED' // a maintainer script exited non-zero, was killed by a signal, or could not be started
  | 'E_SCRIPT_REFUSED' // a maintainer script overmerge will not run (not a regular file, not executable, no PATH)
  | 'E_CONFFILE_PROMPT' // a conffile question could not be answered (end of file or a read error on stdin)
  | 'E_CRASH_INJECTED' // test hook only
  | 'E_INTERNAL';

export interface ErrorDetails {
  /** What was being done: 'rename', 'copy', 'read archive', 'place', ... */
  op?: string;
  /** The path acted on (host path or root path, as the message reads best). */
  path?: string;
  /** The second path of a two-path operation (rename, link, copy). */
  dest?: string;
  /** A hint for the user: what to do about it. */
  hint?: string;
  /** The underlying errno code (ENOSPC, EXDEV, ...) when there is one. */
  errno?: string;
  /**
   * Lines that spell the refusal out after the one-line message, when one line cannot (every unmet
   * relation, as dpkg words it). The first line must stand on its own: scripts read it alone.
   */
  detail?: readonly string[];
  cause?: unknown;
}

export class OvermergeError extends Error {
  readonly code: ErrorCode;
  readonly op?: string;
  readonly path?: string;
  readonly dest?: string;
  readonly hint?: string;
  readonly errno?: string;
  readonly detail?: readonly string[];

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'OvermergeError';
    this.code = code;
    this.op = details.op;
    this.path = details.path;
    this.dest = details.dest;
    this.hint = details.hint;
    this.errno = details.errno;
    this.detail = details.detail;
  }
}

/** The errno code of a Node system error, or undefined. */
export function errnoOf(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** Wraps a Node filesystem error into an OvermergeError that names the operation and both paths. */
export function fsError(op: string, err: unknown, path: string, dest?: string): OvermergeError {
  if (err instanceof OvermergeError) return err;
  const errno = errnoOf(err);
  const what = dest === undefined ? path : `${path} -> ${dest}`;
  const reason = errno === undefined ? String((err as Error)?.message ?? err) : describeErrno(errno);
  const code = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'E_NO_SPACE' : 'E_FS';
  return new OvermergeError(code, `cannot ${op} ${what}: ${reason}`, { op, path, dest, errno, cause: err });
}

function describeErrno(errno: string): string {
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EEXIST: 'file exists',
    EXDEV: 'invalid cross-device link',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
    ENOTEMPTY: 'directory not empty',
    ELOOP: 'too many levels of symbolic links',
    EIO: 'input/output error',
    EROFS: 'read-only file system',
    ETXTBSY: 'text file busy',
    ENAMETOOLONG: 'file name too long',
  };
  return known[errno] ?? errno;
}
