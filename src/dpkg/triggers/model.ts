import type { Relation, RelationGroups } from '../../control/relations';
import type { TriggerDeclarations } from './declarations';
import { STATES, type PkgState } from '../model';

/**
 * The plain data the trigger logic works on: what dpkg keeps in memory about triggers during one run
 * (struct pkginfo's status, trigpend_head and trigaw lists; the interest files; the deferred queue).
 * Nothing here reads or writes disk; `disk.ts` and `formats.ts` translate to and from dpkg's files.
 */

/** dpkg's package states, in dpkg's order (enum pkgstatus): comparisons between them mean something. */
export const PACKAGE_STATUSES = STATES;
export type PackageStatus = PkgState;

export function statusRank(s: PackageStatus): number {
  return RANKS.get(s) ?? -1;
}

/** Each state's place in dpkg's order: the trigger planner compares states of every package at each note. */
const RANKS: ReadonlyMap<PackageStatus, number> = new Map(PACKAGE_STATUSES.map((s, i) => [s, i]));

/** The selection (first word of Status); dpkg only processes triggers of packages wanted installed or held. */
export type Want = 'unknown' | 'install' | 'hold' | 'deinstall' | 'purge';

export interface TriggerPackage {
  /** The name dpkg uses for it in triggers files and Triggers-Awaited (arch-qualified when dpkg does so). */
  readonly name: string;
  status: PackageStatus;
  /** Default 'install'. */
  want?: Want;
  /**
   * Pending triggers in dpkg's in-memory order: newest first. It is the order of the `postinst triggered`
   * argument and of the Triggers-Pending field dpkg writes; dpkg reads that field back reversed (each name is
   * prepended), so a status file's order flips at every dpkg run that rewrites it. See `formats.ts`.
   */
  pending: string[];
  /** Triggers-Awaited: the packages whose trigger processing this one awaits, oldest first. */
  awaited: string[];
  /** The installed version, for the dependency checks of trigger processing and dpkg's messages. */
  version?: string;
  architecture?: string;
  /** Pre-Depends and Depends together: dpkg checks both before running a package's postinst. */
  depends?: RelationGroups;
  /** Whether it has a postinst (default: it has): dpkg breaks a dependency cycle at a package without one. */
  hasPostinst?: boolean;
  provides?: readonly Relation[];
  /** The installed version's `triggers` control file: its `activate` lines fire at configure and removal. */
  declarations?: TriggerDeclarations;
}

/** A line of triggers/File: `PATH PACKAGE[/noawait]`. */
export interface FileInterest {
  readonly path: string;
  readonly package: string;
  readonly noawait: boolean;
}

/** A line of triggers/NAME: `PACKAGE[/noawait]`. */
export interface ExplicitInterest {
  readonly package: string;
  readonly noawait: boolean;
}

export interface TriggerInterests {
  /** triggers/File, in file order (dpkg appends a new interest at the end). */
  file: FileInterest[];
  /** triggers/NAME for each explicit trigger anyone is interested in, lines in file order. */
  explicit: Record<string, ExplicitInterest[]>;
}

export interface TriggerState {
  packages: Record<string, TriggerPackage>;
  interests: TriggerInterests;
  /**
   * dpkg's deferred trigger-processing queue of this run: packages that got a pending trigger, first come
   * first served, each once. Empty at the start of a run; `activate` fills it, the planner empties it.
   */
  deferred: string[];
}

export function emptyTriggerState(): TriggerState {
  return { packages: {}, interests: { file: [], explicit: {} }, deferred: [] };
}

/**
 * A copy the pure functions can change and hand back: what they change is copied (each package object, its
 * pending and awaited lists, the interest lists, the queue); what they never change — a package's
 * relations, provides and trigger declarations, an interest line — is shared. structuredClone copied those
 * too: the configure queue of a bootstrap cloned its whole state after each package, 0.1 s of the main thread.
 */
export function cloneState(s: TriggerState): TriggerState {
  return {
    // fromEntries: an own property for every key, whatever it is called (a trigger name is free text).
    packages: Object.fromEntries(Object.entries(s.packages).map(([k, p]) => [k, { ...p, pending: [...p.pending], awaited: [...p.awaited] }])),
    interests: {
      file: [...s.interests.file],
      explicit: Object.fromEntries(Object.entries(s.interests.explicit).map(([k, lines]) => [k, [...lines]])),
    },
    deferred: [...s.deferred],
  };
}
