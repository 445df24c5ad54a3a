import { OvermergeError } from '../errors';
import type { RootPath } from '../fs/rootpath';
import type { MaintScript } from './script-protocol';

/**
 * The environment a maintainer script gets, exactly as dpkg 1.21 builds it: dpkg's own environment passed
 * through, plus DPKG_ROOT, DPKG_ADMINDIR and DPKG_FORCE (main.c, for every subprocess) and the
 * DPKG_MAINTSCRIPT_* variables and DPKG_RUNNING_VERSION (script.c, for scripts). In a chroot DPKG_ROOT is
 * empty and DPKG_ADMINDIR is the admin folder as seen from inside. dpkg sets nothing else: not PATH (it
 * only refuses to start without one), not DPKG_FRONTEND_LOCKED (frontends such as apt set that for dpkg).
 */

/**
 * The dpkg whose protocol overmerge reproduces (and is tested against). Scripts compare DPKG_RUNNING_VERSION
 * to decide which dpkg features they may rely on, so it names the behaviour they get, not overmerge's own
 * version (0.1.0 compares older than any dpkg these scripts were written for, and would send them down
 * compatibility paths for ancient dpkg).
 */
export const DPKG_PROTOCOL_VERSION = '1.21.22';

/** dpkg's force options in the order of its table (src/common/force.c), which is DPKG_FORCE's order. */
export const DPKG_FORCE_ORDER = [
  'security-mac',
  'downgrade',
  'configure-any',
  'hold',
  'not-root',
  'bad-path',
  'bad-verify',
  'bad-version',
  'statoverride-add',
  'statoverride-remove',
  'overwrite',
  'overwrite-diverted',
  'overwrite-dir',
  'unsafe-io',
  'script-chrootless',
  'confnew',
  'confold',
  'confdef',
  'confmiss',
  'confask',
  'architecture',
  'breaks',
  'conflicts',
  'depends',
  'depends-version',
  'remove-reinstreq',
  'remove-protected',
  'remove-essential',
] as const;
export type DpkgForce = (typeof DPKG_FORCE_ORDER)[number];

/** The forces dpkg enables by default ([*] in `dpkg --force-help`). */
export const DPKG_DEFAULT_FORCES: readonly DpkgForce[] = ['security-mac', 'downgrade'];

/** DPKG_FORCE for a set of enabled forces: comma-separated, in dpkg's order, each once. */
export function dpkgForceString(forces: Iterable<string>): string {
  const on = new Set<string>(forces);
  for (const f of on) {
    if (!(DPKG_FORCE_ORDER as readonly string[]).includes(f)) {
      throw new OvermergeError('E_INTERNAL', `unknown dpkg force option '${f}'`, { op: 'script environment' });
    }
  }
  return DPKG_FORCE_ORDER.filter((f) => on.has(f)).join(',');
}

/** How scripts run: chrooted into the root, or on the host with DPKG_ROOT pointing at it. */
export type ScriptRunMode = 'chroot' | 'chrootless';

export interface ScriptEnvInput {
  /** The script's package name without architecture. */
  readonly package: string;
  readonly arch: string;
  readonly script: MaintScript;
  readonly refcount: number;
  readonly mode: ScriptRunMode;
  /** The root's host path, absolute and symlink-free ('/' for the running system). */
  readonly root: string;
  /** dpkg's admin folder inside the root. */
  readonly admindir: RootPath;
  /** DPKG_FORCE (see dpkgForceString). */
  readonly force: string;
  /** DPKG_MAINTSCRIPT_DEBUG=1 (dpkg: --debug with the scripts flag). */
  readonly debug?: boolean;
  readonly runningVersion?: string;
  /** The environment passed through (dpkg passes its whole environment). */
  readonly base: NodeJS.ProcessEnv;
}

/** Whether the script runs at the root's '/' without a chroot: chrootless, or the root is the host's '/'. */
export function isHostRoot(root: string): boolean {
  return root === '/';
}

/** The complete environment of one script run. */
export function scriptEnvironment(input: ScriptEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.base)) if (v !== undefined) env[k] = v;
  const admin = `/${input.admindir}`;
  // dpkg without --root (our root '/') and dpkg in a chroot both say DPKG_ROOT='' and the admin folder as
  // the script sees it; only chrootless scripts get host paths.
  const inside = input.mode === 'chroot' || isHostRoot(input.root);
  env.DPKG_ADMINDIR = inside ? admin : `${input.root}${admin}`;
  env.DPKG_ROOT = inside ? '' : input.root;
  env.DPKG_FORCE = input.force;
  env.DPKG_MAINTSCRIPT_PACKAGE = input.package;
  env.DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT = String(input.refcount);
  env.DPKG_MAINTSCRIPT_ARCH = input.arch;
  env.DPKG_MAINTSCRIPT_NAME = input.script;
  env.DPKG_MAINTSCRIPT_DEBUG = input.debug ? '1' : '0';
  env.DPKG_RUNNING_VERSION = input.runningVersion ?? DPKG_PROTOCOL_VERSION;
  return env;
}
