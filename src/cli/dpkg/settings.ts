import { Dirs } from './dirs';
import { Forces } from './force';
import type { Reporter } from './report';
import type { PathFilter } from '../../model/path-filter';

/**
 * Everything dpkg's command line (and its configuration files) can say, as one typed state that the
 * option table (dpkg-table.ts) fills in. Defaults are dpkg 1.21's.
 */
export type ActionName =
  | 'install'
  | 'unpack'
  | 'record-avail'
  | 'configure'
  | 'remove'
  | 'purge'
  | 'triggers-only'
  | 'verify'
  | 'listfiles'
  | 'status'
  | 'get-selections'
  | 'set-selections'
  | 'clear-selections'
  | 'print-avail'
  | 'update-avail'
  | 'merge-avail'
  | 'clear-avail'
  | 'forget-old-unavail'
  | 'audit'
  | 'yet-to-unpack'
  | 'list'
  | 'search'
  | 'assert'
  | 'add-architecture'
  | 'remove-architecture'
  | 'print-architecture'
  | 'print-foreign-architectures'
  | 'predep-package'
  | 'validate-pkgname'
  | 'validate-trigname'
  | 'validate-archname'
  | 'validate-version'
  | 'compare-versions'
  | 'help'
  | 'version'
  // dpkg-deb's actions, which dpkg runs dpkg-deb for.
  | 'build'
  | 'contents'
  | 'control'
  | 'info'
  | 'field'
  | 'extract'
  | 'vextract'
  | 'ctrl-tarfile'
  | 'fsys-tarfile';

/** The action as given: its long name, its short letter (if any), and the rest of a continued option. */
export interface ChosenAction {
  readonly name: ActionName;
  readonly short?: string;
  /** `--assert-FEATURE`: FEATURE. */
  readonly suffix?: string;
}

export type { PathFilter };

export class DpkgSettings {
  action?: ChosenAction;
  readonly dirs: Dirs;
  readonly forces: Forces;
  /** -a, --pending */
  pending = false;
  /** -R, --recursive */
  recursive = false;
  /** --no-act, --dry-run, --simulate */
  noAct = false;
  /** --no-debsig */
  noDebsig = false;
  /** -O, --selected-only (and the obsolete -N, --no-also-select) clear it. */
  alsoSelect = true;
  /** -E, --skip-same-version */
  skipSame = false;
  /** -B, --auto-deconfigure */
  autoDeconfigure = false;
  /** --triggers (1), --no-triggers (-1), neither (0: decided by the action). */
  triggers: -1 | 0 | 1 = 0;
  /** --robot */
  robot = false;
  /** --abort-after N (default 50) */
  abortAfter = 50;
  /** --status-fd N, each one given. */
  readonly statusFds: number[] = [];
  /** --status-logger=COMMAND, each one given. */
  readonly statusLoggers: string[] = [];
  readonly preInvoke: string[] = [];
  readonly postInvoke: string[] = [];
  /** --log=FILE (dpkg.cfg sets /var/log/dpkg.log on Debian). */
  log?: string;
  /** --path-exclude / --path-include, in order. */
  readonly pathFilters: PathFilter[] = [];
  /** --ignore-depends=PKG[,...] */
  readonly ignoreDepends: string[] = [];
  /** -D, --debug (octal mask). */
  debug = 0;
  /** --verify-format (only 'rpm' exists). */
  verifyFormat = 'rpm' as const;
  /** --no-pager: the conffile prompt's diff (its only paged output) goes straight to stdout. */
  noPager = false;

  constructor(
    readonly env: Readonly<Record<string, string | undefined>>,
    readonly report: Reporter,
  ) {
    this.dirs = new Dirs(env);
    this.forces = new Forces(env, report);
  }
}
