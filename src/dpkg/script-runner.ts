import { promises as fsp, type Stats } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { OvermergeError, errnoOf, fsError } from '../errors';
import { displayRootPath, hostPath, joinRootPath, parseRootPath, type Root, type RootPath } from '../fs/rootpath';
import { resolveInRoot } from '../fs/resolve-in-root';
import { spawnChild, startsInRoot } from '../spawn-child';
import { firstExecutable } from './host-program';
import { hasProcFolder, withPrivateProc } from './private-proc';
import { DPKG_DEFAULT_FORCES, dpkgForceString, isHostRoot, scriptEnvironment, type ScriptRunMode } from './script-env';
import type { MaintScript } from './script-protocol';
import type { ScriptCall } from './script-sequence';
import { commandLine, describeScript } from './script-text';

/**
 * Runs one maintainer script the way dpkg does (src/main/script.c): chrooted into the root (the default),
 * or on the host with DPKG_ROOT set (dpkg's --force-script-chrootless), with dpkg's environment (see
 * script-env.ts), umask 022, the primary group root when running as root, SIGINT and SIGQUIT ignored by us
 * while it runs (a ^C reaches the script, and we live to record its verdict), and the current directory at
 * the root ('/' inside the chroot; the root's host path when chrootless, as dpkg does).
 *
 * Output is not captured: the script inherits our stdin, stdout and stderr, as under dpkg. Scripts prompt
 * (debconf, ucf) and test isatty(); a pipe with a prefix would break both, hold back prompts that end
 * without a newline, and reorder stderr against stdout. Tests pass `stdio` to collect it.
 *
 * Effects on the root are the script's own; the runner itself changes nothing there (unlike dpkg, it does
 * not chmod a script that lacks execute bits: it refuses it, since a chmod would be an unjournaled change).
 */

/** A script's descriptor: ours, /dev/null, or one given (a test's file). */
export type ScriptStdio = 'inherit' | 'ignore' | number;

/** `disabled`: scripts are not run (--no-scripts); one that exists is reported as skipped, never silently. */
export type ScriptMode = ScriptRunMode | 'disabled';

export interface RunScriptOptions {
  readonly root: Root;
  readonly mode: ScriptMode;
  /** The call (from script-sequence: package, arch, script name, arguments, refcount). */
  readonly call: ScriptCall;
  /** Where the script is, inside the root (see installedScriptPath; the new ones where the engine staged them). */
  readonly script: RootPath;
  /** dpkg's admin folder inside the root (default var/lib/dpkg). */
  readonly admindir?: RootPath;
  /** DPKG_FORCE; default dpkg's defaults, plus script-chrootless when chrootless. */
  readonly force?: string;
  readonly debug?: boolean;
  /** The environment to pass through (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: inherit all three. Never a pipe (see above). */
  readonly stdio?: readonly [ScriptStdio, ScriptStdio, ScriptStdio];
  /**
   * chroot(8) to use where spawnChild cannot chroot itself (no spawn_child addon, or another group to take;
   * default: /usr/sbin/chroot, /sbin/chroot or /usr/bin/chroot, whichever exists).
   */
  readonly chroot?: string;
  /**
   * In a chroot, give the script a /proc of its own (private-proc.ts), when the root has a /proc folder:
   * the bootstrap's scripts, as debootstrap's and mmdebstrap's. This unshare(1) makes it where spawnChild
   * cannot chroot itself; where it can, the child mounts it. Unset: no /proc, as dpkg runs scripts.
   */
  readonly privateProc?: string;
}

export type ScriptRun =
  | { readonly status: 'ok' }
  /** There is no such script: dpkg treats that as success, except for a fallback (see CallSpec.ifAbsent). */
  | { readonly status: 'absent' }
  /** Scripts are disabled and this one exists: the caller must print `notice`. */
  | { readonly status: 'skipped'; readonly notice: string }
  /** It failed, was killed, could not be started or was refused: `error` says which, in one line. */
  | { readonly status: 'failed'; readonly error: OvermergeError; readonly exitCode?: number; readonly signal?: NodeJS.Signals };

export const DEFAULT_ADMINDIR = parseRootPath('/var/lib/dpkg');

/**
 * Where dpkg keeps an installed package's script: ADMINDIR/info/KEY.SCRIPT, KEY being the package name, or
 * name:arch for a Multi-Arch: same package (see packageKey).
 */
export function installedScriptPath(key: string, script: MaintScript, admindir: RootPath = DEFAULT_ADMINDIR): RootPath {
  return joinRootPath(joinRootPath(admindir, 'info'), `${key}.${script}`);
}

export async function runScript(o: RunScriptOptions): Promise<ScriptRun> {
  const what = `${describeScript(o.call)} (${commandLine(o.call)})`;
  let located: { path: RootPath; stat: Stats } | undefined;
  try {
    located = await locate(o.root, o.script, what);
  } catch (err) {
    return { status: 'failed', error: asScriptError(err, what, o.script) };
  }
  if (located === undefined) return { status: 'absent' };
  if (o.mode === 'disabled') {
    return { status: 'skipped', notice: `not running ${what}: maintainer scripts are disabled (--no-scripts)` };
  }
  const refusal = refuse(located.stat, what, located.path);
  if (refusal) return { status: 'failed', error: refusal };
  const env = scriptEnvironment({
    package: o.call.package,
    arch: o.call.arch,
    script: o.call.script,
    refcount: o.call.refcount,
    mode: o.mode,
    root: o.root.host,
    admindir: o.admindir ?? DEFAULT_ADMINDIR,
    force: o.force ?? dpkgForceString([...DPKG_DEFAULT_FORCES, ...(o.mode === 'chrootless' ? ['script-chrootless'] : [])]),
    debug: o.debug,
    base: o.env ?? process.env,
  });
  if (!env.PATH) {
    return { status: 'failed', error: refused(`cannot run ${what}: PATH is not set`, located.path, 'set PATH (dpkg refuses to run without one too)') };
  }
  let command: { file: string; args: string[]; cwd: string };
  try {
    command = await commandFor(o, located.path);
  } catch (err) {
    return { status: 'failed', error: asScriptError(err, what, located.path) };
  }
  return spawnScript(command, env, o.stdio ?? ['inherit', 'inherit', 'inherit'], what, located.path);
}

/**
 * Whether runScript would find `script` (or fail looking for it): false only where it would say `absent`,
 * so that a caller may rely on nothing running. Looked up exactly as runScript looks.
 */
export async function scriptPresent(root: Root, script: RootPath): Promise<boolean> {
  try {
    return (await locate(root, script, displayRootPath(script))) !== undefined;
  } catch {
    return true; // runScript will fail on it, and say why
  }
}

/** The script's resolved place in the root and its lstat, or undefined when there is none. */
async function locate(root: Root, script: RootPath, what: string): Promise<{ path: RootPath; stat: Stats } | undefined> {
  // Parents are resolved inside the root, as the chroot would (a /var that is a symlink stays in the root).
  const path = await resolveInRoot(root, script, { followFinal: false });
  try {
    return { path, stat: await fsp.lstat(hostPath(root, path)) };
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
    throw fsError(`inspect ${what} at`, err, displayRootPath(path));
  }
}

/**
 * dpkg stat()s the script, following a symlink, and chmods it 0755 when it lacks an r-x bit. We run only a
 * regular file that someone may execute: a symlink could lead outside the root when chrootless, and
 * dpkg itself only ever writes regular files there, so anything else was put there by something else.
 */
function refuse(st: Stats, what: string, path: RootPath): OvermergeError | undefined {
  const shown = displayRootPath(path);
  if (!st.isFile()) {
    return refused(`refusing to run ${what}: ${shown} is ${kindOf(st)}, not a regular file`, path, 'reinstall the package to restore its script');
  }
  if ((st.mode & 0o111) === 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    return refused(`refusing to run ${what}: ${shown} is not executable (mode ${mode})`, path, 'reinstall the package to restore its script');
  }
  return undefined;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

interface ScriptCommand {
  file: string;
  args: string[];
  cwd: string;
  /** Started chrooted into this root (spawnChild's own chroot), rather than through chroot(8) or unshare(1). */
  root?: { dir: string; privateProc: boolean };
}

async function commandFor(o: RunScriptOptions, path: RootPath): Promise<ScriptCommand> {
  // $0 is the script's path as the script sees it; $1... are the call's arguments (dpkg: argv[0] is the
  // path, DPKG_MAINTSCRIPT_NAME the script's name).
  if (o.mode === 'chroot' && !isHostRoot(o.root.host)) {
    const privateProc = o.privateProc !== undefined && (await hasProcFolder(o.root));
    // As dpkg does it: the child chroots and execs the script itself, no program in between (1.1 ms a script).
    if (startsInRoot(scriptGroup())) return { file: displayRootPath(path), args: [...o.call.args], cwd: '/', root: { dir: o.root.host, privateProc } };
    if (privateProc && o.privateProc !== undefined) return { ...withPrivateProc(o.privateProc, o.root.host, displayRootPath(path), o.call.args), cwd: '/' };
    const chroot = o.chroot ?? (await findChroot());
    return { file: chroot, args: [o.root.host, displayRootPath(path), ...o.call.args], cwd: '/' };
  }
  return { file: hostPath(o.root, path), args: [...o.call.args], cwd: o.root.host };
}

/** dpkg, as root, makes root its primary group so that the files scripts create are root's. */
function scriptGroup(): { gid?: number } {
  return process.getuid?.() === 0 && process.getgid?.() !== 0 ? { gid: 0 } : {};
}

let chrootProgram: string | undefined;

async function findChroot(): Promise<string> {
  chrootProgram ??= await firstExecutable(['/usr/sbin/chroot', '/sbin/chroot', '/usr/bin/chroot']);
  if (chrootProgram !== undefined) return chrootProgram;
  throw new OvermergeError('E_SCRIPT_REFUSED', 'cannot run maintainer scripts in the root: chroot(8) not found', {
    op: 'run script',
    hint: 'install coreutils, or run scripts chrootless',
  });
}

const IGNORED_WHILE_RUNNING: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];

async function spawnScript(
  command: ScriptCommand,
  env: Record<string, string>,
  stdio: readonly [ScriptStdio, ScriptStdio, ScriptStdio],
  what: string,
  path: RootPath,
): Promise<ScriptRun> {
  // dpkg runs every script with umask 022 (it sets it at start). The child takes our umask when it starts,
  // which spawnChild does before it returns, so it is swapped only around that call (main thread only:
  // workers cannot set the umask, and they share the process's).
  if (!isMainThread) {
    return { status: 'failed', error: new OvermergeError('E_INTERNAL', `cannot run ${what} from a worker thread`, { op: 'run script' }) };
  }
  const ignore = () => {};
  for (const s of IGNORED_WHILE_RUNNING) process.on(s, ignore);
  try {
    const umask = process.umask(0o022);
    let child;
    try {
      child = spawnChild(command.file, command.args, { cwd: command.cwd, env, stdio, root: command.root, ...scriptGroup() });
    } finally {
      process.umask(umask);
    }
    const { code, signal, error } = await child.closed;
    if (error) return { status: 'failed', error: cannotStart(error, what, path) };
    if (code === 0) return { status: 'ok' };
    if (signal) {
      const how = signal === 'SIGINT' ? 'was interrupted (SIGINT)' : `was killed by signal ${signal}`;
      return { status: 'failed', error: failed(`${what} ${how}`, path), signal };
    }
    const status = code ?? -1;
    return { status: 'failed', error: failed(`${what} returned error exit status ${status}`, path), exitCode: status };
  } finally {
    for (const s of IGNORED_WHILE_RUNNING) process.off(s, ignore);
  }
}

function failed(message: string, path: RootPath): OvermergeError {
  return new OvermergeError('E_SCRIPT_FAILED', message, {
    op: 'run script',
    path: displayRootPath(path),
    hint: `its own messages above say why; run it by hand with sh -x ${displayRootPath(path)} to see more`,
  });
}

function refused(message: string, path: RootPath, hint: string): OvermergeError {
  return new OvermergeError('E_SCRIPT_REFUSED', message, { op: 'run script', path: displayRootPath(path), hint });
}

function cannotStart(err: unknown, what: string, path: RootPath): OvermergeError {
  const inner = fsError('start', err, displayRootPath(path));
  // Started in the root: what failed before the script's exec (chroot, mount /proc) is said.
  const step = (err as { step?: string }).step;
  const reason = inner.message.replace(/^cannot start \S+: /, '');
  return new OvermergeError('E_SCRIPT_FAILED', `cannot start ${what}: ${step !== undefined && step !== 'exec' ? `${step}: ${reason}` : reason}`, {
    op: 'run script',
    path: displayRootPath(path),
    errno: inner.errno,
    cause: err,
  });
}

function asScriptError(err: unknown, what: string, path: RootPath): OvermergeError {
  if (err instanceof OvermergeError) {
    if (err.code === 'E_SCRIPT_REFUSED' || err.code === 'E_SCRIPT_FAILED') return err;
    return new OvermergeError('E_SCRIPT_REFUSED', `cannot run ${what}: ${err.message}`, {
      op: 'run script',
      path: displayRootPath(path),
      errno: err.errno,
      hint: err.hint,
      cause: err,
    });
  }
  return new OvermergeError('E_INTERNAL', `cannot run ${what}: ${String(err)}`, { op: 'run script', cause: err });
}

