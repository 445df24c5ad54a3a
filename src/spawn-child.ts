import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { errnoError, optionalAddon } from './fs/own-addon';

/**
 * A program started as Node's `spawn` starts it, but with posix_spawn (src/fs/native/spawn_child.c): the
 * child gets no copy of this process's page tables, so starting it costs the main thread under 0.5 ms
 * instead of 2–3 ms in a bootstrap, where this process is over 100 MB and starts about 110 children.
 * Node's `spawn` starts it where the addon was not built, where the program is to be looked up in PATH,
 * where the child needs another group, where a string holds a NUL, and where posix_spawn says ENOEXEC
 * (execvp, which Node uses, then runs the file with /bin/sh; posix_spawn does not).
 *
 * One contract for both: nothing is thrown for a program that cannot start; `closed` says it.
 */
export type ChildStdio = 'inherit' | 'ignore' | 'pipe' | number;

export interface ChildOptions {
  /** The whole environment of the child (default: ours). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The child's descriptors 0, 1 and 2 (default: ours, inherited). */
  readonly stdio?: readonly [ChildStdio, ChildStdio, ChildStdio];
  /** The child's group (Node's spawn sets it; posix_spawn cannot). */
  readonly gid?: number;
  /**
   * Bytes each of the stdin and stdout pipes holds (Linux's F_SETPIPE_SZ, where the kernel allows it;
   * 64 KiB otherwise, and always where Node's spawn starts the child): how far we may write ahead of the
   * child's reads, and the child ahead of ours.
   */
  readonly pipeCapacity?: number;
  /**
   * Start the program chrooted into `dir` (`file` is then a path inside it), in the root's /, as dpkg
   * starts a maintainer script; with `privateProc`, in a mount namespace of its own with a /proc mounted
   * in the root (src/dpkg/private-proc.ts). Only with the addon (startsInRoot): Node's spawn cannot chroot.
   */
  readonly root?: { readonly dir: string; readonly privateProc: boolean };
}

export interface ChildExit {
  /** The exit status, null when a signal ended it or it did not start. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it did not start (an errno error: code ENOENT, EACCES...). */
  error?: Error;
}

export interface Child {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** The process id, once started. */
  readonly pid?: number;
  /** Settles, never rejects, once the child has exited and its piped output has been read to its end (Node's 'close'). */
  readonly closed: Promise<ChildExit>;
  /** Sends a signal while the child runs; nothing once it has exited. */
  kill(signal: NodeJS.Signals): void;
}

interface SpawnAddon {
  spawn(
    file: string,
    argv: string[],
    env: string[],
    cwd: string | null,
    fds: number[],
    onExit: (code: number | null, signal: number | null) => void,
    root?: string,
    privateProc?: boolean,
  ): number;
  pipe(capacity?: number): [number, number];
}

const addon = optionalAddon<SpawnAddon>('spawn_child');

export function spawnChild(file: string, args: readonly string[], opts: ChildOptions = {}): Child {
  if (opts.root !== undefined) {
    const native = startsInRoot(opts) ? addon() : null;
    if (native === null) throw new Error(`cannot start ${file} in a root: ${opts.gid !== undefined ? 'not with another group' : 'the spawn_child addon was not built'}`);
    if (hasNul(file, args, opts.env)) return notStarted(new Error(`spawn ${file}: a string holds a NUL (null bytes are not allowed)`));
    return spawnNative(native, file, args, opts) as Child; // no ENOEXEC: the child runs such a file with /bin/sh itself
  }
  const native = file.includes('/') && opts.gid === undefined && !hasNul(file, args, opts.env) ? addon() : null;
  if (native !== null) {
    const started = spawnNative(native, file, args, opts);
    if (started !== 'ENOEXEC') return started;
  }
  return spawnNode(file, args, opts);
}

/**
 * Whether spawnChild can start a program chrooted into a root (ChildOptions.root) with these options: only
 * the addon can, and not with another group. Where not, a caller starts chroot(8) or unshare(1) instead.
 */
export function startsInRoot(opts: Pick<ChildOptions, 'gid'> = {}): boolean {
  return opts.gid === undefined && addon() !== null;
}

/**
 * A pipe ([read end, write end], both close-on-exec and blocking) holding `capacity` bytes where the kernel
 * allows it, for a child's descriptor given as a number and an end read by other native code rather than
 * by a stream; undefined where the addon was not built.
 */
export function makePipe(capacity?: number): [number, number] | undefined {
  return addon()?.pipe(capacity) ?? undefined;
}

function spawnNative(native: SpawnAddon, file: string, args: readonly string[], opts: ChildOptions): Child | 'ENOEXEC' {
  const stdio = opts.stdio ?? ['inherit', 'inherit', 'inherit'];
  const env = Object.entries(opts.env ?? process.env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  let exited: (exit: ChildExit) => void = () => {};
  const exit = new Promise<ChildExit>((resolve) => (exited = resolve));
  let running = false;
  let pid: number;
  // Our ends of the pipes (kept) and the child's (closed here once it has them).
  const ours: Array<number | undefined> = [];
  const theirs: number[] = [];
  try {
    const fds = stdio.map((s, i) => {
      if (s === 'inherit') return -1;
      if (s === 'ignore') return -2;
      if (typeof s === 'number') return s;
      const [r, w] = native.pipe(i <= 1 ? opts.pipeCapacity : undefined);
      ours[i] = i === 0 ? w : r;
      theirs.push(i === 0 ? r : w);
      return i === 0 ? r : w;
    });
    const onExit = (code: number | null, signal: number | null): void => {
      running = false;
      exited({ code, signal: signal === null ? null : signalName(signal) });
    };
    pid =
      opts.root === undefined
        ? native.spawn(file, [file, ...args], env, opts.cwd ?? null, fds, onExit)
        : native.spawn(file, [file, ...args], env, null, fds, onExit, opts.root.dir, opts.root.privateProc);
    running = true;
  } catch (err) {
    for (const fd of [...theirs, ...ours]) if (fd !== undefined) closeSync(fd);
    const { errnoNumber: errno, step } = err as { errnoNumber?: number; step?: string };
    if (errno === osConstants.errno.ENOEXEC && opts.root === undefined) return 'ENOEXEC';
    const error = errno === undefined ? (err as Error) : errnoError(new Error(`spawn ${file}${step ? ` (${step})` : ''}`), errno);
    return notStarted(step === undefined ? error : Object.assign(error, { step }));
  }
  for (const fd of theirs) closeSync(fd);
  const socket = (i: number): Socket | null =>
    ours[i] === undefined ? null : new Socket({ fd: ours[i], readable: i !== 0, writable: i === 0 });
  const [stdin, stdout, stderr] = [socket(0), socket(1), socket(2)];
  // Like Node's 'close': the output read to its end, then the exit. A pipe's error ends it too (the exit says why).
  const drained = [stdout, stderr].map((s) => s && new Promise<void>((resolve) => s.once('close', () => resolve())));
  const closed = Promise.all([exit, ...drained]).then(([e]) => e);
  return {
    stdin,
    stdout,
    stderr,
    pid,
    closed,
    kill(signal) {
      if (!running) return;
      try {
        process.kill(pid, signal);
      } catch {
        // It exited between the check and the signal; its exit is on its way.
      }
    },
  };
}

/** A child that never started: `closed` says why. */
function notStarted(error: Error): Child {
  return { stdin: null, stdout: null, stderr: null, closed: Promise.resolve({ code: null, signal: null, error }), kill: () => {} };
}

function spawnNode(file: string, args: readonly string[], opts: ChildOptions): Child {
  let child: ChildProcess;
  try {
    const stdio = [...(opts.stdio ?? ['inherit', 'inherit', 'inherit'])];
    child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio, ...(opts.gid === undefined ? {} : { gid: opts.gid }) });
  } catch (err) {
    return notStarted(err as Error);
  }
  const closed = new Promise<ChildExit>((resolve) => {
    // Node may report 'close' after 'error'; the first word is the verdict.
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    pid: child.pid,
    closed,
    kill: (signal) => void child.kill(signal),
  };
}

/** A NUL would cut a C string short where Node's spawn refuses the call: Node's spawn is left to refuse it. */
function hasNul(file: string, args: readonly string[], env: NodeJS.ProcessEnv | undefined): boolean {
  // Asked at each of a bootstrap's 110 starts: no array of every string made first (that took 0.2 ms a start).
  if (file.includes('\0') || args.some((a) => a.includes('\0'))) return true;
  const vars = env ?? process.env;
  for (const name in vars) if (name.includes('\0') || vars[name]?.includes('\0')) return true;
  return false;
}

function signalName(n: number): NodeJS.Signals | null {
  const found = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return (found?.[0] as NodeJS.Signals | undefined) ?? null;
}
