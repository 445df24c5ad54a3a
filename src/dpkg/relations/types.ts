/**
 * The plain data the relations planner reads and writes. Everything is strings and booleans, as a control
 * file or dpkg's status file has them, so the transaction engine (or a test) can build it without knowing
 * how the planner works inside.
 */

/** dpkg's package states, as its status file spells them (`Status: install ok <state>`). */
export type PackageStatus =
  | 'not-installed'
  | 'config-files'
  | 'half-installed'
  | 'unpacked'
  | 'half-configured'
  | 'triggers-awaited'
  | 'triggers-pending'
  | 'installed';

export type MultiArch = 'no' | 'same' | 'foreign' | 'allowed';

/** dpkg's selection ("want") of an installed package. */
export type Selection = 'unknown' | 'install' | 'hold' | 'deinstall' | 'purge';

/** What relations need of one package version: its control fields, plus what its archive or database holds. */
export interface PackageData {
  readonly name: string;
  readonly version: string;
  /** `all` or an architecture name. */
  readonly architecture: string;
  readonly multiArch?: MultiArch;
  readonly essential?: boolean;
  readonly protected?: boolean;
  /** The relation fields, unparsed (as in the control file); absent means empty. */
  readonly preDepends?: string;
  readonly depends?: string;
  readonly recommends?: string;
  readonly breaks?: string;
  readonly conflicts?: string;
  readonly replaces?: string;
  readonly provides?: string;
  /**
   * The relation fields' names in the order the control file has them (e.g. ['Depends', 'Conflicts']).
   * dpkg checks an archive's relations, and searches for dependency cycles, in that order, so it can decide
   * which problem is reported first and where a cycle breaks. Records read from dpkg's status file have
   * dpkg's own order (Replaces, Provides, Depends, Pre-Depends, Recommends, Breaks, Conflicts), which is
   * also the default.
   */
  readonly fieldOrder?: readonly string[];
  /**
   * Whether the package has a postinst: dpkg prefers to break a dependency cycle at a package without one.
   * Default true (then cycles break where they started).
   */
  readonly hasPostinst?: boolean;
  /** Whether removing it leaves conffiles behind (state config-files rather than not-installed). */
  readonly hasConffiles?: boolean;
  /**
   * The paths it owns (installed) or ships (in an archive), as dpkg lists them (`/.`, `/usr`, `/usr/bin/x`;
   * a leading slash is optional). Only used to find packages that disappear: an installed package without
   * a list never disappears, and a path owned only by packages without one counts as nobody else's. So
   * the engine need only pass the complete lists of the installed packages owning a path some archive
   * ships (and of those sharing folders with them); leaving others out can only keep a package that dpkg
   * would let disappear.
   */
  readonly files?: readonly string[];
  /** The archive's file name, for messages ("regarding hello_1.0_all.deb containing hello"). */
  readonly archive?: string;
}

/** A package in dpkg's database: its installed version's data and its state. */
export interface InstalledPackage extends PackageData {
  readonly status: PackageStatus;
  /** dpkg's Config-Version: the last version configured. Defaults to `version` when status is installed. */
  readonly configVersion?: string;
  /** Default 'install'. A conflicting package selected for removal is removed in favour of the new one. */
  readonly want?: Selection;
}

/** An archive to unpack (`dpkg --unpack`) or install (`dpkg --install`: unpack, then configure). */
export interface ArchiveItem {
  readonly action: 'unpack' | 'install';
  readonly package: PackageData;
}

/** An action on an installed package: `dpkg --configure`, `--remove` or `--purge`. */
export interface InstalledItem {
  readonly action: 'configure' | 'remove' | 'purge';
  readonly name: string;
  /** Needed only when several architectures of `name` are installed (Multi-Arch: same). */
  readonly architecture?: string;
}

export type TransactionItem = ArchiveItem | InstalledItem;

/** dpkg's `--force-...` options that bear on relations. */
export type ForceOption =
  | 'depends'
  | 'depends-version'
  | 'conflicts'
  | 'breaks'
  | 'remove-essential'
  | 'remove-protected'
  | 'architecture'
  | 'hold';

export interface RelationsInput {
  /** The transaction, in command-line order. */
  readonly items: readonly TransactionItem[];
  /** dpkg's database: every package it knows, whatever its state (not-installed entries may be left out). */
  readonly installed: readonly InstalledPackage[];
  /** `dpkg --print-architecture`. */
  readonly nativeArch: string;
  /** `dpkg --print-foreign-architectures`. */
  readonly foreignArchs?: readonly string[];
  readonly force?: readonly ForceOption[];
  /** `--auto-deconfigure` (`-B`): deconfigure packages a new one Breaks, or that depend on a conflictor. */
  readonly autoDeconfigure?: boolean;
  /** `--ignore-depends=PKG,...`. */
  readonly ignoreDepends?: readonly string[];
}

/** A package instance in the plan: its name and architecture, and the label dpkg prints for it. */
export interface PackageRef {
  readonly name: string;
  readonly architecture: string;
  /** `name`, or `name:arch` where dpkg would print it (Multi-Arch: same, foreign architectures). */
  readonly label: string;
  readonly version: string;
}

/** Why a package is deconfigured before an unpack. */
export type DeconfigureReason =
  /** The new package Breaks it (`--auto-deconfigure`). */
  | 'breaks'
  /** It depends on a conflictor that is removed in favour of the new package (`--auto-deconfigure`). */
  | 'removal'
  /** Another architecture of a Multi-Arch: same package moves to a different version. */
  | 'multiarch-sync';

export type PlanStep =
  | {
      readonly op: 'deconfigure';
      readonly pkg: PackageRef;
      readonly reason: DeconfigureReason;
      /** The package whose unpack needs it. */
      readonly inFavourOf: PackageRef;
      /** For reason 'removal': the conflictor being removed. */
      readonly removing?: PackageRef;
    }
  | {
      readonly op: 'unpack';
      readonly pkg: PackageRef;
      /** The version it replaces, if one was unpacked or installed. */
      readonly over?: string;
      /** Conflictors removed in favour of it: their prerm runs before the unpack, the removal after it. */
      readonly conflictors: readonly PackageRef[];
    }
  | { readonly op: 'disappear'; readonly pkg: PackageRef; readonly inFavourOf: PackageRef }
  | {
      readonly op: 'configure';
      readonly pkg: PackageRef;
      /** Set when it is configured early because a later archive pre-depends on it. */
      readonly forPreDependsOf?: PackageRef;
      /** Set when a dependency cycle was broken to configure it (see cycleBreaks). */
      readonly cycleBreak?: CycleBreak;
    }
  | {
      readonly op: 'remove';
      readonly pkg: PackageRef;
      readonly purge: boolean;
      /** Set for a conflictor removed during the unpack of this package. */
      readonly inFavourOf?: PackageRef;
    };

/** Where the planner (as dpkg would) broke a dependency cycle to go on configuring. */
export interface CycleBreak {
  /** The package whose dependency is ignored. */
  readonly pkg: PackageRef;
  /** The name it depends on (the ignored dependency's target). */
  readonly dependsOn: string;
  /** Why there: the first package without a postinst going back along the cycle, else where it started. */
  readonly because: 'no-postinst' | 'cycle-start';
  /** The cycle as found, from where it started to the package that closes it. */
  readonly cycle: readonly string[];
  /** One line, e.g. "dependency cycle broken at a -> b (a is where the cycle started; all have postinsts)". */
  readonly message: string;
}

export type ProblemKind =
  | 'pre-depends'
  | 'depends'
  | 'breaks'
  | 'conflicts'
  | 'essential'
  | 'protected'
  | 'architecture'
  | 'multi-arch'
  | 'state';

/** One refusal, worded as dpkg words it. */
export interface RelationProblem {
  readonly kind: ProblemKind;
  /** The package (or archive) dpkg would fail on. */
  readonly pkg: string;
  /**
   * dpkg's notice: the heading line(s) and the indented reasons, e.g. "dependency problems prevent ...";
   * '' when dpkg gives only the error line.
   */
  readonly detail: string;
  /** dpkg's error line for the package, e.g. "dependency problems - leaving unconfigured". */
  readonly error: string;
  /** The dpkg options that would override it, if any. */
  readonly forcedBy?: readonly string[];
}

/** An instance's state at the end of the plan. */
export interface PackageState {
  readonly pkg: PackageRef;
  readonly status: PackageStatus;
}

export interface RelationsPlan {
  /** The steps in order; meaningful only when `problems` is empty. */
  readonly steps: readonly PlanStep[];
  readonly problems: readonly RelationProblem[];
  /** What dpkg would warn about (forced problems, ignored requests), one message each. */
  readonly warnings: readonly string[];
  readonly cycleBreaks: readonly CycleBreak[];
  /**
   * Every instance dpkg's database would list as present afterwards (status other than not-installed), in
   * the state dpkg would leave it — if dpkg ran the plan, refused parts included (those left unconfigured,
   * deconfigured and not reconfigured). Sorted by label.
   */
  readonly states: readonly PackageState[];
}
