import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoOf, fsError, OvermergeError } from '../errors';

/**
 * One writer per root. Node has no flock/fcntl, so the lock is a file, `ADMINDIR/lock`, that exists only
 * while a writer runs. It is made complete under a temporary name and hard-linked into place, so it
 * appears atomically and whole (link fails with EEXIST if someone else got there first). It names its
 * holder by PID, the process start time from /proc (a recycled PID is not the holder) and the host (a
 * holder on another host cannot be checked and is never evicted). A lock whose holder is gone is stale
 * and taken over; readers never lock.
 */

export interface LockOptions {
  /** Seconds to keep retrying while another writer holds the lock; 0 (default) fails at once. */
  waitSeconds?: number;
  /** Poll interval while waiting. Default 100 ms. */
  pollMs?: number;
  /** What is locked, as messages should name it (the root). Default: the admin directory. */
  label?: string;
  /** What the holder is doing, shown to whoever finds the lock taken. Default: this process's argv. */
  command?: string;
}

export interface Lock {
  /** The lock file. */
  readonly file: string;
  /** Removes the lock if it is still this holder's. Synchronous (usable in an 'exit' handler), idempotent. */
  release(): void;
}

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  /** Field 22 of /proc/PID/stat (start time in clock ticks since boot), when /proc was readable. */
  start: string | null;
  host: string;
  token: string;
  /** ISO time the lock was taken. */
  since: string;
  command: string;
}

const LOCK_NAME = 'lock';
const TAKEOVER_SUFFIX = '.takeover';
/** A lock file without readable content is treated as being written until it is this old. */
const UNREADABLE_GRACE_MS = 5000;
const MAX_ATTEMPTS = 5;

/**
 * Takes the writer lock of the root whose admin directory is `adminDir` (created if missing). Fails with
 * E_LOCKED naming the holder's PID, after waiting up to `waitSeconds` if asked to. The caller releases it,
 * and registers exit/signal handling itself (see `releaseOnExit`).
 */
export async function acquireLock(adminDir: string, opts: LockOptions = {}): Promise<Lock> {
  const waitSeconds = Math.max(0, opts.waitSeconds ?? 0);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return tryAcquireLock(adminDir, opts);
    } catch (err) {
      if (!(err instanceof OvermergeError) || err.code !== 'E_LOCKED') throw err;
      if (Date.now() >= deadline) {
        if (waitSeconds === 0) throw err;
        throw new OvermergeError('E_LOCKED', `${err.message}; gave up after waiting ${waitSeconds}s`, {
          op: err.op,
          path: err.path,
          hint: 'try again later, or wait longer with --lock-wait SECONDS',
        });
      }
    }
    await sleep(Math.min(opts.pollMs ?? 100, Math.max(1, deadline - Date.now())));
  }
}

/** One synchronous attempt: the lock, or E_LOCKED at once. */
export function tryAcquireLock(adminDir: string, opts: LockOptions = {}): Lock {
  const file = path.join(adminDir, LOCK_NAME);
  const label = opts.label ?? adminDir;
  try {
    fs.mkdirSync(adminDir, { recursive: true });
  } catch (err) {
    throw fsError('create the admin directory', err, adminDir);
  }
  const me = describeSelf(opts.command);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (createExclusive(file, me)) return heldLock(file, me.token);
    const seen = inspect(file);
    if (seen === undefined) continue; // released between our attempt and the look
    if (seen.alive) throw lockedError(label, file, seen.holder);
    if (!takeOver(file, seen.ino, me)) throw lockedError(label, file, takeoverHolder(file) ?? seen.holder);
  }
  throw new OvermergeError('E_LOCKED', `${label} is locked: the lock at ${file} keeps changing hands`, {
    op: 'lock',
    path: file,
    hint: 'try again',
  });
}

/** Who holds the lock now, if anyone (also a stale holder); for status output. */
export function readLockHolder(adminDir: string): LockHolder | undefined {
  return readHolder(path.join(adminDir, LOCK_NAME));
}

/**
 * Releases `lock` when the process exits, including through process.exit() from the caller's own
 * SIGINT/SIGTERM handlers. Returns a function that unregisters the handler (call it after releasing).
 */
export function releaseOnExit(lock: Lock): () => void {
  const onExit = (): void => lock.release();
  process.on('exit', onExit);
  return () => {
    process.off('exit', onExit);
  };
}

function heldLock(file: string, token: string): Lock {
  let released = false;
  return {
    file,
    release(): void {
      if (released) return;
      released = true;
      // Only ever remove our own lock: after a (mistaken) takeover the file may be someone else's.
      if (readHolder(file)?.token !== token) return;
      try {
        fs.unlinkSync(file);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw fsError('remove the lock', err, file);
      }
    },
  };
}

function describeSelf(command: string | undefined): LockHolder {
  return {
    pid: process.pid,
    start: procInfo(process.pid)?.start ?? null,
    host: os.hostname(),
    token: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
    command: command ?? ['overmerge', ...process.argv.slice(2)].join(' '),
  };
}

/**
 * Makes `file` with `holder` as its content if it does not exist. The content is written under a private
 * name first and linked into place, so no one ever reads a half-written lock.
 */
function createExclusive(file: string, holder: LockHolder): boolean {
  const tmp = `${file}.${holder.pid}.${holder.token}.tmp`;
  const content = `${JSON.stringify(holder)}\n`;
  try {
    fs.writeFileSync(tmp, content, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    throw fsError('write the lock', err, tmp);
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'EEXIST') return false;
    // A filesystem without hard links: fall back to O_EXCL creation (readers allow for a short gap).
    if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || errno === 'ENOSYS') {
      return createWithExcl(file, content);
    }
    throw fsError('create the lock', err, file);
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Already gone; nothing depends on it.
    }
  }
}

function createWithExcl(file: string, content: string): boolean {
  try {
    fs.writeFileSync(file, content, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw fsError('create the lock', err, file);
  }
}

interface Seen {
  ino: number;
  holder: LockHolder | undefined;
  alive: boolean;
}

/** Looks at an existing lock: its inode (to recognise it later), holder, and whether the holder lives. */
function inspect(file: string): Seen | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw fsError('read the lock', err, file);
  }
  const holder = readHolder(file);
  if (holder === undefined) {
    // Being written by the O_EXCL fallback, or garbage left by a crash: wait for it, then evict it.
    return { ino: st.ino, holder, alive: Date.now() - st.mtimeMs < UNREADABLE_GRACE_MS };
  }
  return { ino: st.ino, holder, alive: holderAlive(holder) };
}

/**
 * Removes the stale lock we inspected (identified by inode) so the caller can try again. Only one process
 * at a time may do this, under the `lock.takeover` marker; without it, two processes that both saw the
 * stale lock could each delete it, the second deleting the first one's fresh lock. Returns false when
 * another process is mid-takeover.
 */
function takeOver(file: string, staleIno: number, me: LockHolder): boolean {
  const marker = file + TAKEOVER_SUFFIX;
  if (!createExclusive(marker, me)) {
    const other = inspect(marker);
    if (other === undefined) return true; // finished meanwhile: just retry
    if (other.alive) return false;
    // Its holder died inside the takeover (a microsecond window): clear the marker and retry.
    removeIfSame(marker, other.ino);
    return true;
  }
  try {
    // Under the marker only the holder could still change the file, and the holder is dead; re-check
    // anyway that it is the very lock we judged, not one created since.
    const now = inspect(file);
    if (now !== undefined && now.ino === staleIno && !now.alive) removeIfSame(file, staleIno);
    return true;
  } finally {
    removeIfSame(marker, undefined);
  }
}

function removeIfSame(file: string, ino: number | undefined): void {
  try {
    if (ino !== undefined && fs.statSync(file).ino !== ino) return;
    fs.unlinkSync(file);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError('remove a stale lock', err, file);
  }
}

function takeoverHolder(file: string): LockHolder | undefined {
  return readHolder(file + TAKEOVER_SUFFIX);
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw fsError('read the lock', err, file);
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (!Number.isSafeInteger(h.pid) || (h.pid as number) <= 0 || typeof h.token !== 'string') return undefined;
    return {
      pid: h.pid as number,
      start: typeof h.start === 'string' ? h.start : null,
      host: typeof h.host === 'string' ? h.host : os.hostname(),
      token: h.token,
      since: typeof h.since === 'string' ? h.since : '?',
      command: typeof h.command === 'string' ? h.command : '?',
    };
  } catch {
    return undefined;
  }
}

function holderAlive(h: LockHolder): boolean {
  // A PID on another host (a root shared over the network) means nothing here: assume it lives.
  if (h.host !== os.hostname()) return true;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if (errnoOf(err) === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else.
  }
  const info = procInfo(h.pid);
  if (info === undefined) return true; // no /proc: the PID check is all we have
  if (info.state === 'Z' || info.state === 'X') return false;
  return h.start === null || info.start === h.start;
}

/** State and start time of `pid` from /proc/PID/stat, or undefined without /proc. */
function procInfo(pid: number): { state: string; start: string } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const start = rest[19];
  if (rest[0] === undefined || start === undefined) return undefined;
  return { state: rest[0], start };
}

function lockedError(label: string, file: string, h: LockHolder | undefined): OvermergeError {
  const who =
    h === undefined
      ? 'another process (the lock is being written)'
      : `PID ${h.pid} (${h.host === os.hostname() ? '' : `on ${h.host}, `}${h.command}, since ${h.since})`;
  return new OvermergeError('E_LOCKED', `${label} is locked by ${who}`, {
    op: 'lock',
    path: file,
    hint: 'wait for it to finish, or pass --lock-wait SECONDS',
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
