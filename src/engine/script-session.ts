import { statSync } from 'node:fs';
import { DPKG_DEFAULT_FORCES, dpkgForceString, type DpkgForce } from '../dpkg/script-env';
import { runScript, type ScriptMode, type ScriptRun } from '../dpkg/script-runner';
import type { ScriptCall } from '../dpkg/script-sequence';
import { OvermergeError } from '../errors';
import { hostPath, parseRootPath, rootPathFromHost, type Root, type RootPath } from '../fs/rootpath';
import { resolveInRoot } from '../fs/resolve-in-root';
import type { Writer } from './context';

/**
 * What running maintainer scripts needs for one command: where and how they run (chrooted into the root,
 * chrootless with DPKG_ROOT, or disabled — then every script that exists is named as skipped, never passed
 * over silently), dpkg's admin folder as the scripts see it, DPKG_FORCE, and where notices go. During an
 * unwind it also remembers whose abort calls failed: dpkg makes no further abort call for that package
 * (cleanup.c's cleanup_pkg_failed), and leaves its state where the failure left it.
 */
export interface ScriptSession {
  readonly root: Root;
  readonly mode: ScriptMode;
  /** Why scripts cannot run here at all (no shell in the root for a chroot, ...): one that exists fails with it. */
  readonly cannot?: string;
  /** dpkg's admin folder inside the root (the scripts see it as /var/lib/dpkg in a chroot). */
  readonly admindir: RootPath;
  readonly force: string;
  /** unshare(1), when each script in the chroot gets a /proc of its own (see ScriptSettings.privateProc). */
  readonly privateProc?: string;
  /** Tells the user something that is not an error (a script skipped, an abort call that failed). */
  notice(line: string): void;
  /** `package-key group` of the abort calls that failed in this unwind. */
  readonly failedGroups: Set<string>;
  /** Told after each script that ran (or was tried): what it may have written is looked at again. */
  readonly ran?: () => void;
}

/** Where a script to run lives inside the root, and the call dpkg makes of it. */
export interface ScriptTarget {
  call: ScriptCall;
  script: RootPath;
}

/** How the user asked scripts to run (--scripts), and where notices go. */
export interface ScriptSettings {
  /** auto: in a chroot when running as root and the root has /bin/sh; refused otherwise. */
  mode: 'auto' | 'chroot' | 'chrootless' | 'disabled';
  notice(line: string): void;
  /** dpkg forces the user gave (--force-depends, ...): scripts see them in DPKG_FORCE, as under dpkg. */
  forces?: readonly DpkgForce[];
  /**
   * unshare(1)'s path: scripts in a chroot each get a /proc of their own (src/dpkg/private-proc.ts). The
   * bootstrap's, as debootstrap and mmdebstrap mount /proc in the root; dpkg's own runs mount nothing.
   */
  privateProc?: string;
}

/**
 * The session of one command on `w`: scripts need dpkg's database (installed scripts live in its info/),
 * and a root to run in.
 */
export async function scriptSessionFor(w: Writer, settings: ScriptSettings | undefined): Promise<ScriptSession | undefined> {
  if (settings === undefined || w.loc.dpkgAdmin === undefined) return undefined;
  let admindir: RootPath;
  try {
    admindir = rootPathFromHost(w.loc.root, w.loc.dpkgAdmin);
  } catch {
    admindir = parseRootPath('/var/lib/dpkg');
  }
  const { mode, cannot } = await resolveMode(w.loc.root, settings.mode);
  const force = dpkgForceString([...DPKG_DEFAULT_FORCES, ...(settings.forces ?? []), ...(mode === 'chrootless' ? ['script-chrootless'] : [])]);
  const ran = (): void => w.dpkg?.othersMayHaveWritten();
  return { root: w.loc.root, mode, cannot, admindir, force, privateProc: settings.privateProc, notice: settings.notice, failedGroups: new Set(), ran };
}

async function resolveMode(root: Root, asked: ScriptSettings['mode']): Promise<{ mode: ScriptMode; cannot?: string }> {
  if (asked !== 'auto') return { mode: asked };
  if (process.geteuid?.() !== 0) {
    return { mode: 'disabled', cannot: 'only root can run maintainer scripts in a chroot (pass --scripts=chrootless, or --no-scripts)' };
  }
  // The root's own /bin/sh, its symlinks followed inside the root, as the chroot will see it.
  const at = await resolveInRoot(root, parseRootPath('/bin/sh'), { followFinal: true }).catch(() => undefined);
  const sh = at === undefined ? undefined : statSync(hostPath(root, at), { throwIfNoEntry: false });
  if (!sh?.isFile()) {
    return { mode: 'disabled', cannot: `the root has no /bin/sh to run maintainer scripts in a chroot (pass --scripts=chrootless, or --no-scripts)` };
  }
  return { mode: 'chroot' };
}

/** Runs one script through the session: a skipped one is told, the outcome handed back as the runner gives it. */
export async function runInSession(s: ScriptSession, t: ScriptTarget): Promise<ScriptRun> {
  const run = await runScript({ root: s.root, mode: s.mode, call: t.call, script: t.script, admindir: s.admindir, force: s.force, privateProc: s.privateProc });
  if (run.status === 'ok' || run.status === 'failed') s.ran?.();
  if (run.status === 'skipped' && s.cannot !== undefined) {
    return { status: 'failed', error: new OvermergeError('E_SCRIPT_REFUSED', `cannot run ${t.call.package}'s ${t.call.script}: ${s.cannot}`, { op: 'run script' }) };
  }
  if (run.status === 'skipped') s.notice(run.notice);
  return run;
}
