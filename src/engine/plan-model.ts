import type { HostPath } from '../fs/host-path';
import type { RootPath } from '../fs/rootpath';
import type { DiskState } from '../model/disk';
import type { StagedPackage } from '../model/staged-package';
import type { Manifest } from '../model/manifest';
import type { InstalledFile, InstalledPackage, Owner, PackageChange, PackageRef } from '../model/package';
import type { PlannedStep } from './steps/registry';

/**
 * A step the planner makes: one that acts on a path of the root. (Whiteouts and attribute removals are
 * overlay reconcile's, made in an unmounted upper layer; a transaction on a root never plans them.)
 */
export type PathStep = Exclude<Extract<PlannedStep, { path: RootPath }>, { kind: 'whiteout' | 'strip-xattr' | 'replace-file' }>;

/**
 * Fresh files placed where they are shipped: `entries[from, to)` of one package's manifest, each a
 * regular file with staged content landing at its own path, where the root has nothing (aside 'none').
 * It stands for one place-file step per entry, in that order, and is never journaled itself: the
 * executor makes each member's step as it reaches it, and the journal holds exactly the place-file steps
 * it would hold without the run (plan-steps.ts reads a plan's steps one member at a time). The planner
 * makes a run only of many such members in a row (PLACE_RUN_MIN): a huge archive's plan then holds no
 * object per member (56 bytes each, 6 MiB for 116,010 members, from planning to the commit).
 */
export interface PlaceFilesRun {
  kind: 'place-files';
  entries: Manifest;
  from: number;
  to: number;
}

/** What a plan lists: path steps, and runs of fresh files that stand for a place-file step each. */
export type PlanStep = PathStep | PlaceFilesRun;

/**
 * The data the planner works on and hands back. Everything it reads is gathered by the probe phase (I/O)
 * before planning, so that `plan` itself is a pure function that tests drive with plain objects.
 */

export interface InstallRequest {
  staged: StagedPackage;
  /**
   * Where a shipped path lands once directory symlinks the root already has are followed — only for paths
   * that land elsewhere; read it as `resolved.get(p) ?? p`.
   */
  resolved: Map<RootPath, RootPath>;
  /** The installed version of the same package, if any. */
  old?: InstalledPackage;
  /** Status to record: `unpacked` for `unpack`, `installed` for `install`; a rollback restores any. */
  status: string;
  /**
   * Rows to record for some shipped paths instead of the rows their entries describe (by shipped path). A
   * rollback records exactly the rows its snapshot kept, conffile flags and hashes included, while the
   * entries themselves are placed as plain files.
   */
  rows?: Map<RootPath, InstalledFile>;
}

export interface RemoveRequest {
  pkg: InstalledPackage;
  purge: boolean;
}

/** dpkg's conffile forces (--force-confnew, confold, confdef, confmiss, confask). */
export interface ConffileForces {
  readonly confnew: boolean;
  readonly confold: boolean;
  readonly confdef: boolean;
  readonly confmiss: boolean;
  readonly confask: boolean;
}

/** What to do about a conffile dpkg would ask about: install the package's version, or keep the current one. */
export type ConffileAnswer = 'install' | 'keep';

/**
 * How the planners decide conffiles: dpkg's forces, and the answers given to the questions an earlier
 * planning of the same transaction raised (by the conffile's path). A question with neither an answer nor
 * a force that decides it is planned with dpkg's default answer, keep, and listed in Plan.questions.
 */
export interface ConffilePolicy {
  readonly forces: ConffileForces;
  readonly answers?: ReadonlyMap<RootPath, ConffileAnswer>;
}

export const NO_CONFFILE_FORCES: ConffileForces = { confnew: false, confold: false, confdef: false, confmiss: false, confask: false };

/**
 * Where the version a question offers is: staged (install decides at once; `host` unset for an entry with
 * no staged content, which cannot be shown) or beside the file as `.dpkg-new` (configure).
 */
export type IncomingConffile = { readonly kind: 'staged'; readonly host: HostPath | undefined } | { readonly kind: 'beside'; readonly path: RootPath };

/**
 * A conffile dpkg would ask about (configure.c promptconfaction): the facts its prompt shows, the version
 * offered, and the answer a force gives (`forced`, with dpkg's words for it) if one does.
 */
export interface ConffileQuestion {
  readonly pkg: string;
  readonly path: RootPath;
  readonly incoming: IncomingConffile;
  readonly userEdited: boolean;
  readonly distEdited: boolean;
  /** The administrator deleted it (dpkg's CFOF_USER_DEL). */
  readonly userDeleted: boolean;
  /** The package did not ship it before, and the root holds another file there (dpkg's CFOF_IS_NEW). */
  readonly isNew: boolean;
  /** dpkg's default answer (every case dpkg 1.21 asks about defaults to keep). */
  readonly default: ConffileAnswer;
  readonly forced?: { readonly answer: ConffileAnswer; readonly why: string };
}

export interface PlanOptions {
  forceOverwrite: boolean;
  conffiles: ConffilePolicy;
  /**
   * Unpack without configuring (dpkg --unpack): new conffiles go beside their files as `.dpkg-new`, and
   * `configure` applies the conffile rules later. Otherwise (install) the rules apply at once.
   */
  unpackOnly?: boolean;
}

export interface PlanInput {
  installs: InstallRequest[];
  removals: RemoveRequest[];
  /** lstat of every path the plan may touch (resolved locations). Missing keys mean absent. */
  disk: ReadonlyMap<RootPath, DiskState>;
  /** Packages outside this transaction's own packages that own each wanted path. */
  owners: Map<RootPath, Owner[]>;
  /** For directories the plan may remove or replace: packages outside the transaction owning something beneath. */
  ownedBeneath: Map<RootPath, Owner[]>;
  /** Unowned paths to remove (files a rolled-back transaction created beside conffiles). */
  extraRemovals?: RootPath[];
  /** Whether a package being installed declares Replaces on an owner (pure; computed from control data). */
  replaces: (staged: StagedPackage, owner: PackageRef) => boolean;
  options: PlanOptions;
}

/**
 * A package's rows as the commit reads them: an array, or (for a huge archive whose rows are its entries)
 * its manifest, whose entries are made one at a time.
 */
export interface FileRows extends Iterable<InstalledFile> {
  readonly length: number;
  map<T>(fn: (row: InstalledFile, index: number) => T): T[];
  filter(fn: (row: InstalledFile, index: number) => boolean): InstalledFile[];
}

/** The rows the commit writes for one package. */
export interface PackageRecord {
  staged?: StagedPackage;
  ref: PackageRef;
  status: string;
  /** Never changed in place: it may be the package's manifest itself (plan.ts Rows). */
  files: FileRows;
}

export interface Plan {
  /** In order; read them with plan-steps.ts (stepsOf, stepCount), which takes a run for its members' steps. */
  steps: PlanStep[];
  /** Packages whose rows are rewritten (files replaced wholesale). */
  records: PackageRecord[];
  /** Packages whose rows are deleted entirely. */
  deleted: PackageRef[];
  /** Paths whose ownership moves away from another package (Replaces, --force-overwrite). */
  disowned: Array<{ owner: PackageRef; path: RootPath }>;
  changes: PackageChange[];
  /** Things the user should hear about that are not errors (a kept conffile, a directory left behind). */
  notices: string[];
  /** Bytes the steps will write, for the space check. */
  bytes: number;
  /**
   * The conffiles dpkg would ask about, forced or not, in the order dpkg would ask; each is planned with
   * its answer from ConffilePolicy.answers, else the force's, else keep.
   */
  questions?: ConffileQuestion[];
  /** What dpkg prints about conffiles it installs, in plan order. */
  conffileNotes?: ConffileNote[];
}

/**
 * dpkg's words about a conffile it puts in place (configure.c): `installing` a new version over one only the
 * package changed, or over the administrator's by answer ("Installing new version of config file ..."),
 * `restoring` a deleted one by --force-confmiss.
 */
export interface ConffileNote {
  readonly path: RootPath;
  readonly note: 'installing' | 'restoring';
}
