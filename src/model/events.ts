import type { PkgState } from '../dpkg/model';

/**
 * What a transaction tells its caller while it runs, as plain data, in dpkg's terms: the engine emits
 * these (TxnOptions.events); overmerge's CLI prints them as dpkg's progress lines, and overmerge-dpkg turns
 * them into dpkg's --status-fd lines (cli/dpkg/transaction/status-fd.ts) and its --log lines. Each carries
 * what those outputs need and nothing of the engine's internals.
 */

/** A package instance as dpkg names it: `name` or `name:arch` where ambiguous, and always qualified. */
export interface PkgLabel {
  /** pkg_name(pkg, pnaw_nonambig): what --status-fd and messages use. */
  readonly name: string;
  /** pkg_name(pkg, pnaw_always): what the --log file uses. */
  readonly qualified: string;
}

/** The label of an instance dpkg calls `display` (`name` or `name:arch`); `arch` '' for none. */
export function labelOf(display: string, name: string, arch: string): PkgLabel {
  return { name: display, qualified: arch === '' ? name : `${name}:${arch}` };
}

/** The words after `processing:` (dpkg's log_action(); apt knows exactly these). */
export type ProcessingAction = 'install' | 'upgrade' | 'configure' | 'remove' | 'purge' | 'disappear' | 'trigproc';

export type DpkgEvent =
  /**
   * dpkg starts working on a package (log_action()). `install` is an unpack of a package that was not
   * installed, `upgrade` one over an installed version (any version, the same included); `disappear` a
   * package whose files all went to others; `trigproc` a package's triggers being processed.
   */
  | {
      readonly kind: 'processing';
      readonly action: ProcessingAction;
      readonly pkg: PkgLabel;
      /** Versions as dpkg describes them (`<none>` when there is none): installed, then the one coming. */
      readonly installedVersion: string;
      readonly availableVersion: string;
    }
  /** A package's state was recorded in the database (modstatdb_note() of a changed state). */
  | { readonly kind: 'status'; readonly pkg: PkgLabel; readonly state: PkgState; readonly version: string }
  /**
   * A package or archive failed (print_error_perpackage / perarchive): `subject` is the package name
   * (pnaw_nonambig) or the archive path as given; `message` dpkg's text (apt greps it, e.g. for
   * "dependency problems - leaving unconfigured").
   */
  | { readonly kind: 'error'; readonly subject: string; readonly message: string }
  /**
   * dpkg would ask about a conffile (configure.c): the installed path, the paths of the current and the new
   * version as dpkg names them, and whether the administrator and the distribution changed it.
   */
  | {
      readonly kind: 'conffile-prompt';
      readonly path: string;
      readonly current: string;
      readonly incoming: string;
      readonly userEdited: boolean;
      readonly distEdited: boolean;
    }
  /** dpkg's words about a conffile it puts in place (engine/plan-model.ts ConffileNote): printed only. */
  | { readonly kind: 'conffile-note'; readonly path: string; readonly note: 'installing' | 'restoring' }
  /** The decision about a conffile (`install` the new version or `keep` the current one): logged only. */
  | { readonly kind: 'conffile'; readonly path: string; readonly decision: 'install' | 'keep' }
  /**
   * The run begins, once the database is open and locked (the driver emits it, so that a run refused
   * before that logs nothing): `archives` for -i/--unpack, `packages` for the others, with the action.
   */
  | { readonly kind: 'startup'; readonly what: 'archives' | 'packages'; readonly action: string };

export type DpkgEventSink = (event: DpkgEvent) => void;
