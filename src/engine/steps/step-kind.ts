import type { DpkgDb } from '../../dpkg/dpkg-db';
import type { CrossDevicePairs } from '../../fs/cross-device';
import type { PlaceMode } from '../../fs/place';
import type { Root } from '../../fs/rootpath';
import type { StepHooks } from '../../fs/steps';
import type { SyncBatch } from '../../fs/sync';
import type { BackupKeeper } from '../keep-backups';
import type { ScriptSession } from '../script-session';

/**
 * A kind of journal step: one file per kind under engine/steps/, registered in registry.ts. The planner
 * (or a transaction phase) emits a planned step `{ kind, ... }`; right before it is journaled, `concretize`
 * turns it into its payload — plain JSON naming every host path, temporary and backup up front, so the
 * journal record written ahead of the step tells `recover` exactly what to look for.
 *
 * - `run` performs the step (after its intent is durable);
 * - `undo` reverses it from whatever point it reached, or had not reached;
 * - `finish` lets go of what it kept for undo (backups), after the commit.
 *
 * undo and finish are idempotent and read the filesystem to know where they are: after a crash, recovery
 * runs them on a payload whose step may have done nothing, part, or all of its work, and a crash during
 * recovery runs them again.
 */
export interface StepKind<K extends string, Planned extends { kind: K }, Payload, Kept = Payload> {
  readonly kind: K;
  /**
   * Journaled alone, right before it runs, never ahead of it in a batch: its undo must only ever run for a
   * step that started (a maintainer script's abort call is made only for a script that was run).
   */
  readonly alone?: boolean;
  /**
   * Its finish only lets go of names of its own (its backup, its folder), so it may run while other such
   * finishes are in flight: letting go of an upgrade's backups is thousands of unlink(2) calls that mostly
   * wait on the filesystem, and several in flight keep both cores and the disk busy. A kind without it
   * (an emptied folder's rmdir, dpkg's database, a script) waits for every earlier finish and runs alone.
   */
  readonly finishAlongside?: boolean;
  /**
   * Its run hands the executor's SyncBatch everything it changes (each file it writes, each folder whose
   * entries it changes or that it creates), so that flushing the batch makes it durable: a transaction of
   * such steps alone needs no syncfs before its commit (transaction.ts). A step that cannot list what it
   * changed hands the batch its filesystem instead (SyncBatch.addFilesystem: a maintainer script that
   * ran). The overlay reconcile's kinds change inodes in place and list nothing, so they leave it unset.
   */
  readonly syncsItself?: boolean;
  /**
   * True when the step kept nothing for its finish to let go of (no backup): finishing a transaction then
   * passes it by, with no promise and no crash point (a fresh install of 116,010 files made and awaited one
   * of each per file, for nothing).
   */
  keptNothing?(payload: Kept): boolean;
  /**
   * What the journal keeps of the payload: what undo and finish read back (after a crash too). Without
   * it, the whole payload; `run` always gets the whole payload, from memory.
   */
  journaled?(payload: Payload): Kept;
  concretize(step: Planned, ctx: ConcretizeContext): Payload;
  run(payload: Payload, ctx: RunContext): Promise<void>;
  undo(payload: Kept, ctx: UndoContext): Promise<void>;
  finish(payload: Kept, ctx: FinishContext): Promise<void>;
}

/** What making a step concrete needs: where the root is, how files are placed, dpkg's database. */
export interface ConcretizeContext {
  root: Root;
  mode: PlaceMode;
  /** dpkg's database, when the root has one: its changes are planned against it. */
  dpkg?: DpkgDb;
}

/** What a step needs while it runs. Syncs go into `sync`; the executor flushes it before marking steps done. */
export interface RunContext {
  root: Root;
  asRoot: boolean;
  /** Crash points and pauses, one per filesystem sub-step (tests inject kills through them). */
  hooks: StepHooks;
  sync: SyncBatch;
  /** The transaction's folder pairs on different filesystems, so placements between them copy at once. */
  crossDevice?: CrossDevicePairs;
  dpkg?: DpkgDb;
  /** Where and how maintainer scripts run (run-script steps). */
  scripts?: ScriptSession;
}

export interface UndoContext {
  hooks: StepHooks;
  sync: SyncBatch;
  dpkg?: DpkgDb;
  scripts?: ScriptSession;
}

export interface FinishContext {
  hooks: StepHooks;
  dpkg?: DpkgDb;
  /** With --keep-backups: takes what a step replaced into the backup store before it is let go of. */
  keeper?: BackupKeeper;
  /**
   * Directories whose entries a finish changed (a backup let go of), made durable together before the
   * journal is forgotten; without it each finish syncs its own directory at once.
   */
  sync?: SyncBatch;
}

/** Any registered kind, as the generic executor holds it (payloads are the kind's own business). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStepKind = StepKind<string, any, any, any>;

/** The planned-step type of a kind. */
export type PlannedOf<S> = S extends StepKind<string, infer P, unknown> ? P : never;

/** The payload type of a kind. */
export type PayloadOf<S> = S extends StepKind<string, { kind: string }, infer J> ? J : never;
