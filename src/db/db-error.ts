import { OvermergeError } from '../errors';

/** The extended result code of a better-sqlite3 SqliteError ('SQLITE_BUSY', 'SQLITE_CORRUPT_VTAB', ...). */
export function sqliteCode(err: unknown): string | undefined {
  if (err instanceof Error && err.name === 'SqliteError' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

const HINTS: Array<[prefix: string, reason: string, hint?: string]> = [
  ['SQLITE_NOTADB', 'not an SQLite database', 'point --db at an overmerge database or at a new file'],
  ['SQLITE_CORRUPT', 'the database is corrupt', 'restore it from a backup'],
  ['SQLITE_BUSY', 'the database is busy (another process holds it)', 'retry when the other overmerge finishes'],
  ['SQLITE_LOCKED', 'the database is busy (another process holds it)', 'retry when the other overmerge finishes'],
  ['SQLITE_READONLY', 'the database is read-only', undefined],
  ['SQLITE_CANTOPEN', 'cannot open the database file', 'check that the directory exists and is writable'],
  ['SQLITE_PERM', 'permission denied', undefined],
  ['SQLITE_IOERR', 'input/output error', undefined],
  ['SQLITE_FULL', 'no space left on device', 'free some space and run `overmerge recover`'],
];

/**
 * Turns whatever better-sqlite3 threw into a one-line OvermergeError naming the database file and the
 * operation. OvermergeErrors thrown by callers inside a transaction pass through untouched, and so do
 * non-SQLite errors (bugs keep their stack).
 */
export function dbError(err: unknown, file: string, op: string): unknown {
  if (err instanceof OvermergeError) return err;
  const code = sqliteCode(err);
  if (code === undefined) return err;
  const known = HINTS.find(([prefix]) => code.startsWith(prefix));
  const reason = known ? known[1] : (err as Error).message;
  const detail = known && !(err as Error).message.toLowerCase().includes(reason) ? ` (${(err as Error).message})` : '';
  return new OvermergeError(code === 'SQLITE_FULL' ? 'E_NO_SPACE' : 'E_DB', `database ${file}: cannot ${op}: ${reason}${detail}`, {
    op,
    path: file,
    hint: known?.[2],
    errno: code,
    cause: err,
  });
}

/** Runs `fn`, converting SQLite failures into OvermergeErrors. */
export function guarded<T>(file: string, op: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw dbError(err, file, op);
  }
}

/** Like `guarded` for a lazily consumed iterator: errors raised while stepping are converted too. */
export function* guardedIter<T>(file: string, op: string, make: () => Iterable<T>): Generator<T, void, undefined> {
  let it: Iterator<T>;
  try {
    it = make()[Symbol.iterator]();
  } catch (err) {
    throw dbError(err, file, op);
  }
  let finished = false;
  try {
    for (;;) {
      let r: IteratorResult<T>;
      try {
        r = it.next();
      } catch (err) {
        finished = true;
        throw dbError(err, file, op);
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // A consumer that stops early must free the statement, or the connection stays busy.
    if (!finished) it.return?.();
  }
}

/** An update that must hit exactly one row; anything else means the caller passed a stale id. */
export function expectOne(s: { file: string }, changes: number, what: string): void {
  if (changes !== 1) {
    throw new OvermergeError('E_INTERNAL', `database ${s.file}: ${what} does not exist or is in the wrong state`, {
      path: s.file,
    });
  }
}
