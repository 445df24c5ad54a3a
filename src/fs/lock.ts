import * as fs from 'node:fs';
import { errnoOf, fsError, OvermergeError } from '../errors';
import { conflict, setLock } from './fcntl';
import type { HostPath } from './host-path';

/**
 * One writer at a time: a whole-file POSIX record lock (fcntl F_SETLK, F_WRLCK, SEEK_SET, start 0,
 * length 0) on a lock file, exactly the kind dpkg and apt take on /var/lib/dpkg/lock and lock-frontend,
 * so the same primitive can take theirs and conflicts with them. The kernel keeps the lock and drops it
 * when the process dies, however it dies (kill -9 included): there is no stale lock to detect, and the
 * file itself means nothing (it stays, empty; removing it while held would let a second writer in).
 * The holder's PID, from F_GETLK, is used only to name it in the message.
 *
 * Classic locks, not Linux's open file description (OFD) locks: both conflict with each other, but F_GETLK
 * reports an OFD lock's holder as PID -1, so neither dpkg nor we could name it. The price is a pitfall of
 * classic locks, which belong to the process, not to the descriptor:
 *
 *   Closing ANY descriptor of the locked file in the holding process drops the lock, even one opened
 *   for an unrelated reason. So the holding process must never open and close the lock file a second
 *   time, and a second lock attempt by the same process would, left alone, succeed (a process never
 *   conflicts with itself) and then drop the first lock when released.
 *
 * Hence `held`, the table of lock files this process holds, by inode: a second attempt on one of them is
 * refused as E_LOCKED naming this process, and the descriptor it opened is kept open until the first
 * holder releases. The kernel keeps these locks per process, so this table is per process too: the one
 * piece of module state, and deliberately so. (Per thread, strictly: a worker thread loads its own copy of
 * this module and would not see the table, so locks are taken on the main thread only, where writers run.)
 *
 * The descriptor is close-on-exec (libuv opens every file O_CLOEXEC), as dpkg sets on its lock
 * descriptors: maintainer scripts and other children never inherit it. (They would not inherit the lock
 * itself anyway; fcntl locks are not passed on by fork.)
 */

export interface LockOptions {
  /** Seconds to keep retrying while another process holds the lock; 0 (default) fails at once. */
  waitSeconds?: number;
  /** Poll interval while waiting (F_SETLKW would block the event loop). Default 100 ms. */
  pollMs?: number;
  /** What is locked, as messages should name it (the root). Default: the lock file. */
  label?: string;
  /** Mode of the lock file if it is created. Default 0644; dpkg creates its lock files 0640. */
  mode?: number;
}

export interface Lock {
  /** The lock file. */
  readonly file: string;
  /** Drops the lock (closes its descriptor). Synchronous, idempotent. */
  release(): void;
}

interface Held {
  fd: number;
  /** Descriptors of refused second attempts by this process, which must stay open while the lock is held. */
  extra: number[];
}

const held = new Map<string, Held>();

/** Attempts while the holder keeps letting go between our F_SETLK and F_GETLK. */
const MAX_ATTEMPTS = 5;

/**
 * Takes the lock on `file` (created if missing, never through a symlink), waiting up to `waitSeconds`.
 * Fails with E_LOCKED naming the holder's PID.
 */
export async function acquireLock(file: HostPath, opts: LockOptions = {}): Promise<Lock> {
  const waitSeconds = Math.max(0, opts.waitSeconds ?? 0);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return tryLock(file, opts);
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
export function tryLock(file: HostPath, opts: LockOptions = {}): Lock {
  const label = opts.label ?? file;
  const fd = openLockFile(file, opts.mode ?? 0o644);
  let key: string;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new OvermergeError('E_UNSAFE_PATH', `${file} is not a regular file; refusing to use it as a lock`, { op: 'lock', path: file });
    }
    key = `${st.dev}:${st.ino}`;
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof OvermergeError ? err : fsError('lock', err, file);
  }
  const mine = held.get(key);
  if (mine !== undefined) {
    // Closing fd now would drop the lock this process holds: it goes when that lock is released.
    mine.extra.push(fd);
    throw lockedError(label, file, `PID ${process.pid} (this process)`);
  }
  // No lock of this process is on the file, so closing fd below (on failure) drops nothing.
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (setLock(fd, 'write')) return hold(file, key, fd);
      const c = conflict(fd, 'write');
      if (c.kind !== 'none') throw lockedError(label, file, describeHolder(c.pid));
      // Released between the two calls: try again.
    }
    throw lockedError(label, file, 'another process that keeps taking and releasing it');
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof OvermergeError ? err : fsError('lock', err, file);
  }
}

/**
 * Opens the lock file read-write (a write lock needs a descriptor open for writing), creating it with
 * exactly `mode` if missing, whatever the umask. O_NOFOLLOW: a symlink at the lock's name is refused
 * (ELOOP), never followed out of the root. An existing file keeps its mode (dpkg's own lock keeps dpkg's).
 */
function openLockFile(file: string, mode: number): number {
  const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
      try {
        fs.fchmodSync(fd, mode);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      return fd;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw fsError('create the lock', err, file);
    }
    try {
      return fs.openSync(file, O_RDWR | O_NOFOLLOW);
    } catch (err) {
      // Removed between our two opens: create it again (a few times at most).
      if (errnoOf(err) !== 'ENOENT' || attempt >= MAX_ATTEMPTS) throw fsError('open the lock', err, file);
    }
  }
}

function hold(file: string, key: string, fd: number): Lock {
  const entry: Held = { fd, extra: [] };
  held.set(key, entry);
  let released = false;
  return {
    file,
    release(): void {
      if (released) return;
      released = true;
      held.delete(key);
      // Closing the descriptor is what releases the lock (all of this process's descriptors, in fact).
      for (const d of [entry.fd, ...entry.extra]) fs.closeSync(d);
    },
  };
}

/** The holder as F_GETLK names it, with its command line when /proc shows it. */
function describeHolder(pid: number): string {
  if (pid === -1) return 'another process (an open file description lock, which names no PID)';
  if (pid <= 0) return 'a process in another PID namespace';
  const command = commandLine(pid);
  return command === undefined ? `PID ${pid}` : `PID ${pid} (${command})`;
}

const MAX_COMMAND = 120;

/** /proc/PID/cmdline as one short line, or undefined (gone meanwhile, or no /proc). */
function commandLine(pid: number): string | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  // Arguments are NUL-separated; newlines (in a `node -e SCRIPT`, say) would break the one-line message.
  const line = raw.split('\0').join(' ').replace(/\s+/g, ' ').trim();
  if (line === '') return undefined; // a zombie, or a kernel thread
  return line.length > MAX_COMMAND ? `${line.slice(0, MAX_COMMAND - 1)}…` : line;
}

function lockedError(label: string, file: string, who: string): OvermergeError {
  return new OvermergeError('E_LOCKED', `${label} is locked by ${who}`, {
    op: 'lock',
    path: file,
    hint: 'wait for it to finish, or pass --lock-wait SECONDS',
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
