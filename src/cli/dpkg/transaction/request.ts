import type { ForceName } from '../force';
import type { PathFilter } from '../settings';

/**
 * A dpkg transaction as overmerge-dpkg hands it to the engine: everything dpkg's command line says about
 * it, checked as dpkg checks it before it touches anything, as plain data. Strings are byte strings (one
 * character per byte), as dpkg's arguments are bytes.
 */
export type ArchiveAction = 'install' | 'unpack';
export type PackageAction = 'configure' | 'triggers-only' | 'remove' | 'purge';
export type TransactionAction = ArchiveAction | PackageAction;

/** What every transaction request says. */
export interface CommonRequest {
  /** The root the packages' files go to: '' for the real root (dpkg's --root/--instdir, DPKG_ROOT). */
  readonly instdir: string;
  /** dpkg's database (--admindir, --root, DPKG_ADMINDIR). */
  readonly admindir: string;
  /** --no-act, --dry-run, --simulate: say what would be done, change nothing. */
  readonly noAct: boolean;
  /** The forces in effect, in dpkg's order (defaults, DPKG_FORCE, configuration files, command line). */
  readonly forces: readonly ForceName[];
  /** --ignore-depends: relations involving these packages are not checked. */
  readonly ignoreDepends: readonly string[];
  /** --no-pager: the conffile prompt's diff is printed, never paged. */
  readonly noPager?: boolean;
  /**
   * Trigger processing: `process` (--triggers, or the default), `defer` (--no-triggers, or the default of
   * --triggers-only with package names): activations are recorded, processing is left to a later run.
   */
  readonly triggers: 'process' | 'defer';
  /** --abort-after N: stop after N packages failed (default 50). */
  readonly abortAfter: number;
  /** --status-fd, in the order given. */
  readonly statusFds: readonly number[];
  /** --status-logger commands (each gets the status lines on its standard input). */
  readonly statusLoggers: readonly string[];
  /** --log FILE. */
  readonly log?: string;
  /** -D, --debug octal mask (dpkg's debug flags; the engine may map them to its own tracing). */
  readonly debug: number;
}

/** -i / --install, --unpack: archives. */
export interface ArchiveRequest extends CommonRequest {
  readonly action: ArchiveAction;
  /** The archives, as given or as found by --recursive (sorted as dpkg walks). */
  readonly archives: readonly string[];
  /** Whether they came from --recursive DIR... */
  readonly recursive: boolean;
  /** -O, --selected-only: skip packages not selected for installation. */
  readonly selectedOnly: boolean;
  /** -E, --skip-same-version: skip an archive of the version and architecture installed. */
  readonly skipSameVersion: boolean;
  /** -B, --auto-deconfigure: deconfigure packages the new ones would break instead of refusing. */
  readonly autoDeconfigure: boolean;
  /** --path-exclude / --path-include, in order: which paths of the archives not to install. */
  readonly pathFilters: readonly PathFilter[];
  /** --no-debsig (overmerge never checks signatures: informational). */
  readonly noDebsig: boolean;
}

/** A package named on the command line: `name` or `name:arch`, checked as dpkg checks names. */
export interface PackageSpec {
  readonly name: string;
  readonly arch?: string;
  /** As typed. */
  readonly text: string;
}

/** --configure, --triggers-only, -r / --remove, -P / --purge: packages, or -a / --pending. */
export interface PackageRequest extends CommonRequest {
  readonly action: PackageAction;
  readonly target: { readonly pending: true } | { readonly pending: false; readonly packages: readonly PackageSpec[] };
}

export type TransactionRequest = ArchiveRequest | PackageRequest;

export function isArchiveRequest(r: TransactionRequest): r is ArchiveRequest {
  return r.action === 'install' || r.action === 'unpack';
}
