import { spawn } from 'node:child_process';
import { chmodSync, lchownSync, promises as fsp, type BigIntStats, constants as C } from 'node:fs';
import { fsError, OvermergeError } from '../errors';
import type { HostPath } from './host-path';
import { errnoError, optionalAddon } from './own-addon';
import { readXattrsSync, writeXattrsSync, type Xattrs } from './xattr';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export function kindOf(st: BigIntStats): EntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

/** Permission bits including setuid, setgid and sticky. */
export function permBits(st: BigIntStats): number {
  return Number(st.mode & 0o7777n);
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor), for handing a device number to mknod(1). */
export function majorMinor(rdev: bigint): { major: bigint; minor: bigint } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major, minor };
}

export interface ApplyOptions {
  /** Only root may give files away; otherwise ownership stays the caller's. */
  asRoot: boolean;
  /**
   * `p` was just created by this process with `st`'s permission bits (copyFile sets the source's mode):
   * its owner is then the process's own user and group (it was made in a folder of our own, without
   * setgid), so an lchown to the same owner, and a chmod to the same mode that no chown cleared, are
   * skipped: two calls of the four a copied file cost.
   */
  freshWithMode?: { uid: number; gid: number };
}

/**
 * Ownership, permissions and xattrs of `st` onto `p`, in the one order that keeps them all: chown first
 * (it clears setuid/setgid and security.capability), then chmod (restores setuid/setgid), then xattrs
 * (restores the capability). Times go last, through a TimesBatch, after everything else has touched `p`.
 */
export function applyOwnerModeXattrsSync(p: HostPath, st: BigIntStats, attrs: Xattrs, opts: ApplyOptions): void {
  const isLink = st.isSymbolicLink();
  const fresh = opts.freshWithMode;
  const sameOwner = fresh !== undefined && BigInt(fresh.uid) === st.uid && BigInt(fresh.gid) === st.gid;
  if (opts.asRoot && !sameOwner) {
    try {
      lchownSync(p, Number(st.uid), Number(st.gid));
    } catch (err) {
      throw fsError('change owner of', err, p);
    }
  }
  // chown clears setuid and setgid (and only those): without them, and with the mode already set, chmod would change nothing.
  const modeKept = fresh !== undefined && (sameOwner || !opts.asRoot || (permBits(st) & 0o6000) === 0);
  if (!isLink && !modeKept) {
    try {
      chmodSync(p, permBits(st));
    } catch (err) {
      throw fsError('change mode of', err, p);
    }
  }
  writeXattrsSync(p, attrs);
}

export { readXattrsSync };

interface TimesEntry {
  path: string;
  atimeNs: bigint;
  mtimeNs: bigint;
}

/**
 * Sets access and modification times to the nanosecond. Node cannot: fs.utimes takes seconds as a double,
 * which near today's epoch resolves only about 240 ns, and libuv's conversion of it changed under us:
 * libuv 1.46 (Node 20) and 1.51 (Node 22) truncate it to whole microseconds, 1.52 (Node 24.22, 26) keeps
 * the double's nanoseconds, rounding error and all (so a double aimed at the middle of a microsecond,
 * which the older ones truncated back to it, lands about 480 ns off). A double is used only where it is
 * exact whatever libuv does: whole seconds (tar's times). Every other time is set with the integer
 * nanoseconds by utimensat(2) itself: through overmerge's own addon (src/fs/native/utimens.c), one
 * synchronous call per entry; where it was not built, by a perl one-liner handed the whole batch
 * (perl-base is Essential in Debian, so it is always there), one process per batch, not per file.
 */
export class TimesBatch {
  private readonly whole: TimesEntry[] = [];
  private readonly nano: TimesEntry[] = [];

  /** `useAddon: false` takes the way of a host where the addon was not built (its tests do). */
  constructor(private readonly opts: { useAddon?: boolean } = {}) {}

  /** Times from `st` for `p` (never follows a final symlink). */
  add(p: HostPath, st: BigIntStats): void {
    this.addNs(p, st.atimeNs, st.mtimeNs);
  }

  /** Explicit times (nanoseconds since the epoch) for `p`. */
  addNs(p: HostPath, atimeNs: bigint, mtimeNs: bigint): void {
    const e = { path: p, atimeNs, mtimeNs };
    if (wholeSeconds(atimeNs) && wholeSeconds(mtimeNs)) this.whole.push(e);
    else this.nano.push(e);
  }

  get size(): number {
    return this.whole.length + this.nano.length;
  }

  async flush(): Promise<void> {
    const whole = this.whole.splice(0);
    const nano = this.nano.splice(0);
    const native = this.opts.useAddon === false ? null : utimensBinding();
    if (native !== null) {
      for (const e of [...whole, ...nano]) setTimesNative(native, e);
      return;
    }
    for (const e of whole) {
      try {
        await fsp.lutimes(e.path, Number(e.atimeNs / NS_PER_S), Number(e.mtimeNs / NS_PER_S));
      } catch (err) {
        throw fsError('set times of', err, e.path);
      }
    }
    if (nano.length > 0) await setTimesNs(nano);
  }
}

const NS_PER_S = 1_000_000_000n;

interface UtimensBinding {
  /** utimensat(2) of the path itself (AT_SYMLINK_NOFOLLOW); throws with errnoNumber. */
  lutimens(path: string, atimeNs: bigint, mtimeNs: bigint): void;
}

const utimensBinding = optionalAddon<UtimensBinding>('utimens');

function setTimesNative(native: UtimensBinding, e: TimesEntry): void {
  try {
    native.lutimens(e.path, e.atimeNs, e.mtimeNs);
  } catch (err) {
    const errnoNumber = (err as { errnoNumber?: number }).errnoNumber;
    throw fsError('set times of', errnoNumber === undefined ? err : errnoError(err as Error, errnoNumber), e.path);
  }
}

/** A whole number of seconds that a double holds exactly (any time within ±2^53 s does). */
function wholeSeconds(ns: bigint): boolean {
  return ns % NS_PER_S === 0n && ns >= 0n;
}

/**
 * The nearest double to `ns` in seconds: the best fs.lutimes can do where perl's exact path is missing
 * (an architecture without a known utimensat number). libuv truncates what it is given, to the microsecond
 * (before 1.52) or to the nanosecond, so this may land one unit low.
 */
function approximateSeconds(ns: bigint): number {
  return Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9;
}

const UTIMENSAT: Partial<Record<string, number>> = { x64: 280, arm64: 88 };

const SET_TIMES_PERL = `
$/ = "\\0"; my $nr = shift @ARGV; my $bad = 0;
while (defined(my $p = <STDIN>)) {
  chomp $p; my @t = map { my $v = <STDIN>; chomp $v; $v } 1..4;
  if (syscall($nr, -100, $p, pack("q4", @t), 0x100) != 0) { print STDERR "$p\\0$!\\0"; $bad = 1; }
}
exit $bad;`;

async function setTimesNs(entries: TimesEntry[]): Promise<void> {
  const nr = UTIMENSAT[process.arch];
  if (nr === undefined) {
    // No known syscall number: fall back to a double rather than refuse the copy.
    for (const e of entries) await fsp.lutimes(e.path, approximateSeconds(e.atimeNs), approximateSeconds(e.mtimeNs));
    return;
  }
  const input = Buffer.concat(
    entries.map((e) => {
      if (!e.path.startsWith('/') || e.path.includes('\0')) {
        throw new OvermergeError('E_INTERNAL', `cannot set times of ${e.path}: not an absolute path`);
      }
      const fields = [e.path, ...timespec(e.atimeNs), ...timespec(e.mtimeNs)];
      return Buffer.from(fields.map((f) => `${f}\0`).join(''));
    }),
  );
  const stderr = await runWithInput('perl', ['-e', SET_TIMES_PERL, String(nr)], input);
  if (stderr.code !== 0) {
    const [p, reason] = stderr.text.split('\0');
    throw new OvermergeError('E_FS', `cannot set times of ${p || entries[0].path}: ${reason || 'perl failed'}`, {
      op: 'set times of',
      path: p || entries[0].path,
    });
  }
}

/** Seconds and nanoseconds as utimensat(2) wants them: tv_nsec in [0, 1e9), also before the epoch. */
function timespec(ns: bigint): [bigint, bigint] {
  const nsec = ((ns % NS_PER_S) + NS_PER_S) % NS_PER_S;
  return [(ns - nsec) / NS_PER_S, nsec];
}

function runWithInput(cmd: string, args: string[], input: Buffer): Promise<{ code: number; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err) => reject(fsError(`run ${cmd} for`, err, 'times')));
    child.on('close', (code) => resolve({ code: code ?? 1, text: Buffer.concat(chunks).toString() }));
    child.stdin.on('error', () => undefined); // an early exit is reported through `close`
    child.stdin.end(input);
  });
}

/**
 * Cheap equality of what an install controls: type, permission bits, owner, size and device number.
 * Times and inode identity are not compared: an identical file may have been written at another time.
 */
export function sameMetadata(a: BigIntStats, b: BigIntStats): boolean {
  return (
    kindOf(a) === kindOf(b) &&
    permBits(a) === permBits(b) &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    (a.isDirectory() || a.size === b.size) &&
    a.rdev === b.rdev
  );
}

/** Two names for one inode. */
export function sameInode(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether `a` and `b` hold the same thing: metadata as sameMetadata, symlink targets, xattrs and file
 * bytes. The engine uses it to leave identical files untouched (no pointless copy-up on overlay roots).
 */
export async function sameEntry(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstatOrUndefined(a), lstatOrUndefined(b)]);
  if (!sa || !sb || !sameMetadata(sa, sb)) return false;
  if (sa.isSymbolicLink()) {
    const [ta, tb] = await Promise.all([fsp.readlink(a, { encoding: 'buffer' }), fsp.readlink(b, { encoding: 'buffer' })]);
    return ta.equals(tb);
  }
  const [xa, xb] = [readXattrsSync(a, false), readXattrsSync(b, false)];
  if (!sameXattrs(xa, xb)) return false;
  return sa.isFile() ? sameBytes(a, b) : true;
}

function sameXattrs(a: Xattrs, b: Xattrs): boolean {
  if (a.length !== b.length) return false;
  const m = new Map(b.map(([n, v]) => [n, v]));
  return a.every(([n, v]) => m.get(n)?.equals(v) === true);
}

async function lstatOrUndefined(p: string): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch {
    return undefined;
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const fa = await fsp.open(a, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const fb = await fsp.open(b, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      const ba = Buffer.alloc(1 << 16);
      const bb = Buffer.alloc(1 << 16);
      for (;;) {
        const [ra, rb] = await Promise.all([readFull(fa, ba), readFull(fb, bb)]);
        if (ra !== rb || !ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
        if (ra === 0) return true;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

async function readFull(fh: fsp.FileHandle, buf: Buffer): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
