import type { Db } from '../../db/db';
import type { DpkgDb } from '../../dpkg/dpkg-db';
import type { JournalStep } from '../../db/types';
import type { PlaceMode } from '../../fs/place';
import type { Root } from '../../fs/rootpath';
import type { StepHooks } from '../../fs/steps';
import { CrossDevicePairs } from '../../fs/cross-device';
import { SyncBatch } from '../../fs/sync';
import { GarbageCadence } from '../memory-bounds';
import type { CrashPoints } from '../crash';
import type { BackupKeeper } from '../keep-backups';
import type { ScriptSession } from '../script-session';
import type { PlannedStep, StepRegistry } from '../steps/registry';
import type { AnyStepKind, ConcretizeContext, RunContext } from '../steps/step-kind';

export interface ExecOptions {
  root: Root;
  mode: PlaceMode;
  asRoot: boolean;
  crash: CrashPoints;
  /** Journal intents written per SQLite transaction (1 = one durable write per step). */
  batchSize: number;
  /** Called after each step, for progress. */
  onStep?: (done: number, total: number) => void;
  /** dpkg's database, when the root has one (steps of kind dpkg-change act on it). */
  dpkg?: DpkgDb;
  /** Where and how maintainer scripts run (steps of kind run-script). */
  scripts?: ScriptSession;
}

/** A planned step of any registered kind; its kind's file knows the rest of its shape. */
export interface AnyPlannedStep {
  kind: string;
}

/**
 * Runs planned steps, a batch at a time: the batch is made concrete, its intents durable before any of
 * them acts, and marked done after. The loop knows nothing of what a step does: each kind's file does
 * (engine/steps/). On a failure the caller undoes the journal (undoJournal); the commit is not this
 * module's business either: the caller flushes `sync` and commits once `run` resolves.
 */
export class Executor {
  readonly sync = new SyncBatch();
  /** Whether every step journaled so far syncs itself (StepKind.syncsItself): then `sync` alone makes them durable. */
  private allSyncThemselves = true;

  /** Flushing `sync` makes every step run so far durable: no step of a kind that leaves that to a syncfs. */
  get syncedByBatch(): boolean {
    return this.allSyncThemselves;
  }
  private readonly concrete: ConcretizeContext;
  private readonly context: RunContext;

  constructor(
    private readonly db: Db,
    private readonly txnId: number,
    private readonly steps: StepRegistry,
    private readonly opts: ExecOptions,
  ) {
    this.concrete = { root: opts.root, mode: opts.mode, dpkg: opts.dpkg };
    const hooks: StepHooks = { step: (name, detail) => opts.crash.step(name, detail.path) };
    this.context = { root: opts.root, asRoot: opts.asRoot, hooks, sync: this.sync, crossDevice: new CrossDevicePairs(), dpkg: opts.dpkg, scripts: opts.scripts };
  }

  /**
   * Journals a step whose work its caller does itself right after (the staging folder, made before the
   * plan exists): one durable intent, so undo and finish will find it.
   */
  record(step: PlannedStep, opts: { crashPoint?: boolean } = {}): void {
    const kind = this.steps.get(step.kind);
    this.allSyncThemselves &&= kind.syncsItself === true;
    const data = kind.concretize(step, this.concrete);
    this.db.journal.intend(this.txnId, step.kind, journalForm(kind, data));
    // Not inside a caller's SQLite transaction: a crash there would leave no trace of the transaction.
    if (opts.crashPoint !== false) this.opts.crash.tick();
  }

  /**
   * Runs `steps` in order. They may be an iterable that makes them as it goes (a plan's runs of fresh files,
   * plan-steps.ts), read once, a batch ahead of the step running; `total` is their number then (progress).
   * `before` is called with each planned step right before it runs, not when its batch is journaled: what
   * it tells (dpkg's `processing:` line of the package the step starts) keeps the order of the steps.
   */
  async run(steps: Iterable<AnyPlannedStep>, total: number = Array.isArray(steps) ? steps.length : 0, before?: (step: AnyPlannedStep) => void): Promise<void> {
    const cadence = new GarbageCadence();
    const it = steps[Symbol.iterator]();
    let done = 0;
    for (let next = it.next(); next.done !== true; ) {
      // Concrete a batch at a time: the concrete form carries several host paths a step, too much to hold
      // for every member of a huge archive at once. A kind that must be journaled alone ends the batch.
      const first = next.value;
      const planned = [first];
      next = it.next();
      if (!this.steps.get(first.kind).alone) {
        while (next.done !== true && planned.length < this.opts.batchSize && !this.steps.get(next.value.kind).alone) {
          planned.push(next.value);
          next = it.next();
        }
      }
      const batch = planned.map((s) => {
        const kind = this.steps.get(s.kind);
        this.allSyncThemselves &&= kind.syncsItself === true;
        return { kind, data: kind.concretize(s, this.concrete), planned: before && s };
      });
      // A run's planned steps were made for this batch: let them go before it runs (held across its
      // awaits they would be promoted with the payloads).
      planned.length = 0;
      const ids = this.db.journal.intendMany(
        this.txnId,
        batch.map((b) => ({ kind: b.kind.kind, data: journalForm(b.kind, b.data) })),
      );
      this.opts.crash.tick();
      for (let j = 0; j < batch.length; j++) {
        const step = batch[j].planned;
        if (step !== undefined) before?.(step);
        await batch[j].kind.run(batch[j].data, this.context);
        cadence.tick();
        this.opts.crash.tick();
        this.opts.onStep?.(++done, total);
      }
      this.db.journal.doneMany(ids);
      this.opts.crash.tick();
    }
  }
}

/** What the journal keeps of a step's payload (StepKind.journaled). */
function journalForm(kind: AnyStepKind, payload: object): object {
  return kind.journaled ? kind.journaled(payload) : payload;
}

/**
 * Undoes every journaled step of `txnId`, newest first. Intents of a batch that never got to run are
 * undone too (there is nothing to find, so nothing happens); their directories may not exist, which is
 * why syncs are collected and a vanished path is skipped at the flush.
 */
export async function undoJournal(db: Db, txnId: number, steps: StepRegistry, crash: CrashPoints, dpkg?: DpkgDb, scripts?: ScriptSession): Promise<void> {
  const hooks: StepHooks = { step: () => crash.tick() };
  const sync = new SyncBatch();
  for (const page of journalPages(db, txnId, true)) {
    for (const j of page) {
      if (j.state === 'undone') continue;
      await steps.get(j.kind).undo(j.data, { hooks, sync, dpkg, scripts });
      await sync.flush();
      db.journal.undone(j.id);
      crash.tick();
    }
  }
}

/**
 * Finishes every journaled step of a committed `txnId`, oldest first, then forgets the journal. The
 * directories the finishes changed are synced once, together, before the journal goes: until then a
 * crash leaves the journal, and recover finishes again (letting go of a backup is idempotent). An upgrade
 * of 2,000 files otherwise paid an fsync of the same directory per replaced file.
 */
export async function finishJournal(db: Db, txnId: number, steps: StepRegistry, crash: CrashPoints, keeper?: BackupKeeper, dpkg?: DpkgDb): Promise<void> {
  const hooks: StepHooks = { step: () => crash.tick() };
  const sync = new SyncBatch();
  // The keeper copies backups into its store one at a time (SQLite rows and blobs): then nothing overlaps.
  const inFlight = new InFlight(keeper ? 1 : FINISHES_IN_FLIGHT);
  for (const page of journalPages(db, txnId, false)) {
    for (const j of page) {
      const kind = steps.get(j.kind);
      if (kind.keptNothing?.(j.data) === true) continue;
      const finish = async (): Promise<void> => {
        await kind.finish(j.data, { hooks, keeper, dpkg, sync });
        crash.tick();
      };
      if (kind.finishAlongside) await inFlight.add(finish());
      else {
        await inFlight.drain();
        await finish();
      }
    }
  }
  await inFlight.drain();
  await sync.flush();
  crash.tick();
  db.journal.clear(txnId);
  crash.tick();
}

/**
 * Finishes in flight at once: libuv's thread pool has four threads, and an unlink of an old file mostly
 * waits on the filesystem (5,000 synced files: 4 in flight took half the wall time of one at a time).
 */
const FINISHES_IN_FLIGHT = 4;

/**
 * A bounded set of running promises. A failure is kept and thrown once every other one has settled, so
 * nothing is still acting on the root when the caller learns of it.
 */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  private failure: { err: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Adds a running promise; resolves when there is room for the next. */
  async add(p: Promise<void>): Promise<void> {
    const tracked = p.then(
      () => void this.running.delete(tracked),
      (err: unknown) => {
        this.running.delete(tracked);
        this.failure ??= { err };
      },
    );
    this.running.add(tracked);
    while (this.running.size >= this.limit && this.failure === undefined) await Promise.race(this.running);
    if (this.failure !== undefined) await this.drain();
  }

  /** Waits for every running promise; throws the first failure. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
    if (this.failure !== undefined) throw this.failure.err;
  }
}

/** Journal steps read per page: enough to keep SQLite busy, few enough that memory does not follow the journal. */
const JOURNAL_PAGE = 512;

/**
 * The journal of `txnId` oldest first (newest first with `reverse`), a page at a time: better-sqlite3
 * refuses writes while an iterator is open, and reading the whole journal would hold every step of a
 * huge transaction in memory.
 */
function* journalPages(db: Db, txnId: number, reverse: boolean): Generator<JournalStep[]> {
  let from = reverse ? Number.MAX_SAFE_INTEGER : 0;
  for (;;) {
    const page = db.journal.page(txnId, from, JOURNAL_PAGE, { reverse });
    if (page.length === 0) return;
    yield page;
    from = page[page.length - 1].seq;
  }
}
