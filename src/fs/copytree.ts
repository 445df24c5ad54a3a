import { execFile } from 'node:child_process';
import { promises as fsp, type BigIntStats, constants as C } from 'node:fs';
import { promisify } from 'node:util';
import { fsError, OvermergeError } from '../errors';
import { applyOwnerModeXattrs, kindOf, majorMinor, TimesBatch } from './metadata';
import { hostJoin, type HostPath } from './host-path';
import { isInterrupted, step, type StepHooks } from './steps';
import { readXattrs } from './xattr';

const execFileP = promisify(execFile);

export interface CopyOptions {
  hooks?: StepHooks;
  /** Leaf copies running at once (the libuv pool does the work). */
  concurrency?: number;
}

/** What a copy created, so the caller can make it durable before trusting it. */
export interface CopyResult {
  /** Regular files written (each once, however many hard links it has). */
  files: HostPath[];
  /** Directories created, the top one included. */
  dirs: HostPath[];
  entries: number;
  bytes: bigint;
}

interface CopyContext {
  hooks?: StepHooks;
  asRoot: boolean;
  /** The process's user and group: what a file it creates in a folder of its own belongs to. */
  self: { uid: number; gid: number };
  times: TimesBatch;
  /** dev:ino of a multiply-linked source → the copy made for its first name. */
  links: Map<string, Promise<HostPath>>;
  limit: Limiter;
  result: CopyResult;
}

/**
 * A faithful copy of `src` (file, symlink, special file or whole directory tree) at `dst`, which must not
 * exist. Everything is created exclusively, so nothing existing is written into and a symlink planted at
 * `dst` is refused, not followed. Source symlinks are copied, never followed. Hard links inside the tree
 * stay hard links. Times are set last, for the whole tree at once. Calls step 'copy:entry' before each
 * entry. On failure the partial copy is left for the caller, who knows whether removing it is safe.
 */
export async function copyTree(src: HostPath, dst: HostPath, opts: CopyOptions = {}): Promise<CopyResult> {
  const ctx: CopyContext = {
    hooks: opts.hooks,
    asRoot: process.getuid?.() === 0,
    self: { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 },
    times: new TimesBatch(),
    links: new Map(),
    limit: new Limiter(opts.concurrency ?? 16),
    result: { files: [], dirs: [], entries: 0, bytes: 0n },
  };
  const st = await lstat(src);
  if (st.isDirectory()) await copyDir(src, dst, st, ctx);
  else await copyLeaf(src, dst, st, ctx, false);
  await ctx.times.flush();
  return ctx.result;
}

/** One non-directory entry, metadata and times included (what place() needs for its copy fallback). */
export async function copyEntry(src: HostPath, dst: HostPath, opts: { hooks?: StepHooks } = {}): Promise<CopyResult> {
  return copyTree(src, dst, { hooks: opts.hooks, concurrency: 1 });
}

async function copyDir(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext): Promise<void> {
  await step(ctx.hooks, 'copy:entry', { path: dst });
  // Owner-only until the end: children can be created whatever the final mode, and nobody else can
  // look into a half-made directory.
  try {
    await fsp.mkdir(dst, { mode: 0o700 });
  } catch (err) {
    throw fsError('create directory', err, dst);
  }
  ctx.result.dirs.push(dst);
  ctx.result.entries++;
  let names: string[];
  try {
    names = (await fsp.readdir(src)).sort();
  } catch (err) {
    throw fsError('read directory', err, src);
  }
  const subdirs: Array<[string, BigIntStats]> = [];
  await settleAll(
    names.map(async (name) => {
      const s = hostJoin(src, name);
      const childSt = await lstat(s);
      if (childSt.isDirectory()) subdirs.push([name, childSt]);
      else await ctx.limit.run(() => copyLeaf(s, hostJoin(dst, name), childSt, ctx, true));
    }),
  );
  for (const [name, childSt] of subdirs.sort(([a], [b]) => (a < b ? -1 : 1))) {
    await copyDir(hostJoin(src, name), hostJoin(dst, name), childSt, ctx);
  }
  await applyOwnerModeXattrs(dst, st, await readXattrs(src, false), { asRoot: ctx.asRoot });
  ctx.times.add(dst, st);
}

/** `inOwnDir`: dst's folder is one this copy made (still 0700, never setgid until the copy ends). */
async function copyLeaf(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext, inOwnDir: boolean): Promise<void> {
  await step(ctx.hooks, 'copy:entry', { path: dst });
  ctx.result.entries++;
  if (st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = ctx.links.get(key);
    if (first) {
      const firstDst = await first;
      try {
        await fsp.link(firstDst, dst);
      } catch (err) {
        throw fsError('hard-link', err, firstDst, dst);
      }
      return;
    }
    const made = createLeaf(src, dst, st, ctx, inOwnDir).then(() => dst);
    made.catch(() => undefined); // awaited below; a second name awaiting it gets the same failure
    ctx.links.set(key, made);
    await made;
    return;
  }
  await createLeaf(src, dst, st, ctx, inOwnDir);
}

async function createLeaf(src: HostPath, dst: HostPath, st: BigIntStats, ctx: CopyContext, inOwnDir: boolean): Promise<void> {
  const kind = kindOf(st);
  switch (kind) {
    case 'file':
      await copyFileData(src, dst);
      ctx.result.files.push(dst);
      ctx.result.bytes += st.size;
      break;
    case 'symlink':
      await copySymlink(src, dst);
      break;
    case 'fifo':
      await run('mkfifo', ['-m', '600', '--', dst], dst);
      break;
    case 'char':
    case 'block': {
      // Node has no mknod(2); coreutils' mknod is that call. Only root may make device nodes.
      const { major, minor } = majorMinor(st.rdev);
      await run('mknod', ['-m', '600', '--', dst, kind === 'char' ? 'c' : 'b', String(major), String(minor)], dst);
      break;
    }
    default:
      throw new OvermergeError('E_FS', `cannot copy ${src}: sockets cannot be copied`, {
        op: 'copy',
        path: src,
        dest: dst,
        hint: 'stop the program that owns the socket and remove it',
      });
  }
  // copyFile gives a regular file its source's mode; other kinds get theirs from chmod as before.
  const freshWithMode = kind === 'file' && inOwnDir ? ctx.self : undefined;
  await applyOwnerModeXattrs(dst, st, await readXattrs(src, kind === 'symlink'), { asRoot: ctx.asRoot, freshWithMode });
  ctx.times.add(dst, st);
}

/**
 * COPYFILE_EXCL makes the destination O_CREAT|O_EXCL (refusing an existing name or a planted symlink);
 * FICLONE asks for a reflink and libuv falls back to copy_file_range, then to read/write. On failure
 * (ENOSPC included) libuv removes the half-written destination itself.
 */
async function copyFileData(src: string, dst: string): Promise<void> {
  try {
    await fsp.copyFile(src, dst, C.COPYFILE_EXCL | C.COPYFILE_FICLONE);
  } catch (err) {
    throw fsError('copy', err, src, dst);
  }
}

/** The target is copied as bytes: never resolved, never re-encoded. */
async function copySymlink(src: string, dst: string): Promise<void> {
  let target: Buffer;
  try {
    target = await fsp.readlink(src, { encoding: 'buffer' });
  } catch (err) {
    throw fsError('read symlink', err, src);
  }
  try {
    await fsp.symlink(target, dst);
  } catch (err) {
    throw fsError('create symlink', err, dst);
  }
}

async function run(cmd: string, args: string[], dst: HostPath): Promise<void> {
  try {
    await execFileP(cmd, args);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    const errno = /File exists/.test(stderr) ? 'EEXIST' : /No space/.test(stderr) ? 'ENOSPC' : /not permitted/.test(stderr) ? 'EPERM' : undefined;
    const wrapped = errno ? Object.assign(new Error(stderr), { code: errno }) : new Error(stderr || String(err));
    throw fsError(`create (${cmd})`, wrapped, dst);
  }
}

/**
 * Like Promise.all, but waits for every task before failing: the caller removes the partial copy next,
 * and a copy still in flight would write into it behind its back.
 */
async function settleAll(tasks: Array<Promise<unknown>>): Promise<void> {
  const outcomes = await Promise.allSettled(tasks);
  const reasons = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  if (reasons.length === 0) return;
  // A simulated crash wins, then the real cause; "abandoned" is only an echo of the cause.
  throw reasons.find(isInterrupted) ?? reasons.find((r) => !(r instanceof Abandoned)) ?? reasons[0];
}

class Abandoned extends Error {
  constructor() {
    super('copy abandoned after an earlier failure');
  }
}

async function lstat(p: string): Promise<BigIntStats> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch (err) {
    throw fsError('stat', err, p);
  }
}

/** At most `max` tasks at once; only leaves take a slot, so a directory waiting on its children holds none. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  private failed = false;

  /** Once a task failed, queued ones fail too instead of starting: the copy is being abandoned. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    if (this.failed) {
      this.waiting.shift()?.();
      throw new Abandoned();
    }
    this.active++;
    try {
      return await fn();
    } catch (err) {
      this.failed = true;
      throw err;
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
