import type { Db } from '../db/db';
import { labelOf, type DpkgEventSink } from '../model/events';
import type { TxnKind } from '../db/types';
import { OvermergeError } from '../errors';
import { makePrivateDirectory, removeTree } from '../fs/entries';
import { hostJoin, type HostPath } from '../fs/host-path';
import type { PlaceMode } from '../fs/place';
import { deviceOf, syncFilesystem } from '../fs/sync';
import type { Writer } from './context';
import type { CrashPoints } from './crash';
import type { ConffilePolicy, Plan, PlanOptions } from './plan-model';
import { askedFor, planAnswering, type ConffileAsker, type PlanAsker } from './conffile-questions';
import { displayPath } from '../fs/rootpath';
import { plan as makePlan } from './plan';
import { stepCount, stepsOf } from './plan-steps';
import { checkInput, checkPlan } from './phases/check';
import { commitPlan } from './phases/commit';
import { applyCommitStates, runTail } from './script-tail';
import { runConfigureQueue } from './configure-run';
import { activationFor } from './trigger-activation';
import { readTriggerSnapshot } from './trigger-state';
import type { DpkgAction } from '../dpkg/triggers';
import type { PackageRef } from '../model/package';
import { scriptSessionFor, type ScriptSettings, type ScriptSession } from './script-session';
import type { PackageScripts } from './script-plan';
import type { RelationsOptions } from './relations/options';
import type { AnyPlannedStep } from './phases/execute';
import { dpkgStepsFor } from './dpkg-export';
import { importFromDpkg, recordDpkgFingerprints } from './dpkg-import';
import { Executor, undoJournal } from './phases/execute';
import { finishTransaction } from './phases/finish';
import { gatherPlanInput, type Requests } from './phases/probe';
import type { ReadArchive } from './phases/read';
import type { LaidFiles } from './laid-files';
import type { ControlCache } from '../archive/control-reads';
import { Probe } from './probe';
import { collectGarbage, LARGE_TRANSACTION, releaseFreedMemory } from './memory-bounds';
import type { StagedAhead } from './staged-ahead';
import { explainNoSpace } from './space';
import type { StepRegistry } from './steps/registry';
import type { PathFilter } from '../model/path-filter';
import { checkUpperRoom, upperRoomOf, type UpperRoom, type UpperSpaceReport } from './upper-room';

export interface TxnOptions {
  mode: PlaceMode;
  forceOverwrite: boolean;
  conffiles: ConffilePolicy;
  /** The kinds of journal step this engine runs (and can undo and finish). */
  steps: StepRegistry;
  /** Journal intents per SQLite commit. */
  batchSize: number;
  crash: CrashPoints;
  autoRecover: boolean;
  asRoot: boolean;
  /** Keep what this transaction replaces in the backup store, so it can be rolled back. */
  keepBackups: boolean;
  /** How many transactions keep their backups; older ones lose them (and the ability to roll back). */
  backupRetention: number;
  /** Members the archives of one transaction may have in all (default DEFAULT_MAX_MEMBERS). */
  maxMembers?: number;
  /** dpkg's --path-exclude / --path-include, in order: the archives' paths kept out of the root. */
  pathFilters?: readonly PathFilter[];
  /**
   * Files an earlier transaction of this process laid, unowned, from the archives being installed (a
   * bootstrap's extraction): an archive whose files are all still as laid is not staged again (laid-files.ts).
   */
  laid?: LaidFiles;
  /** Control parts this process read already (a bootstrap's set): an unchanged archive is not read again. */
  controls?: ControlCache;
  /** Archives this process stages (or decodes) ahead of the transactions that install them (a bootstrap's later groups). */
  ahead?: StagedAhead;
  /**
   * Which xz data members the worker thread decodes itself (src/stage/native-tar.ts): 'small' (the default) those
   * under 1 MiB, the larger ones in the host's `xz`, their dictionary outside this process (issue 14's
   * bound on memory); 'all' every one, for a bootstrap, whose heap is let grow anyway (about 0.15 s quicker).
   */
  xzInProcess?: 'small' | 'all';
  /**
   * false: an install does not configure a pre-dependency of the same call in a transaction before what
   * pre-depends on it (install.ts), but unpacks the whole call as dpkg does, configured at the end — for a
   * bootstrap's Essential set, whose files its extraction laid already, as debootstrap and mmdebstrap
   * install it (one `dpkg --force-depends --unpack`/`--install` call). Default true.
   */
  preDependsFirst?: boolean;
  /** Progress callback: what is happening and how far along. */
  progress?: (phase: string, done: number, total: number) => void;
  /** How maintainer scripts run, and where their notices go. */
  scripts?: ScriptSettings;
  /** Each package's progress as dpkg reports it (processing, states, errors, conffile decisions). */
  events?: DpkgEventSink;
  /**
   * Asks the conffile questions of the plan (dpkg's prompt); without it each gets its force's answer or
   * dpkg's default (keep). Asked after the maintainer scripts of the plan phase, before any file is placed.
   */
  askConffiles?: ConffileAsker;
  /** dpkg's relation forces, --auto-deconfigure, --ignore-depends, and where relation warnings go (default: every relation held). */
  relations?: RelationsOptions;
  /** false: --no-triggers (activations are recorded, none processed in this run). */
  triggers?: boolean;
  /** --dry-run: plan (TxnSpec.preview) and measure, begin nothing, change nothing. */
  dryRun?: boolean;
  /**
   * false (OVERMERGE_DEBUG_SKIP_UPPER_PREFLIGHT=1): no upper-space pre-flight on an overlay root, so that a
   * test reaches the out-of-space roll-back it normally prevents.
   */
  upperPreflight?: boolean;
}

export interface TxnOutcome {
  txnId: number;
  plan: Plan;
  /** What failed after the commit (a postinst, a postrm): the packages are left as dpkg leaves them. */
  failures: string[];
  /** A dry run (txnId 0, plan the preview): what the root is, and on an overlay the upper-space estimate. */
  dryRun?: DryRunUpper[];
}

/** A dry run's word on the upper layer: the estimate on an overlay root, or why there is none. */
export type DryRunUpper = { kind: 'overlay'; report: UpperSpaceReport } | { kind: 'not-overlay' } | { kind: 'unreadable'; why: string };

/**
 * What a spec's plan phase may do besides planning: run journaled steps at once (the maintainer scripts
 * dpkg runs before the files: their effects are what the plan must see), with the script session.
 */
export interface PlanTime {
  /** `before(step)` is called right before each step runs (Executor.run). */
  run(steps: readonly AnyPlannedStep[], before?: (step: AnyPlannedStep) => void): Promise<void>;
  scripts?: ScriptSession;
  /** Asks the plan's conffile questions (see planAnswering), if the caller can be asked. */
  ask?: PlanAsker;
}

/** What one kind of transaction (install, remove, rollback, configure) brings to the common shape. */
export interface TxnSpec {
  kind: TxnKind;
  /** The command's arguments, as the transaction's record keeps them. */
  args: string[];
  /**
   * Stage, probe and plan: what the transaction changes and the steps that do it. Installs, removals and
   * rollbacks give their requests to `planChanges`; configure plans from what the root holds.
   */
  plan: (probe: Probe, stagingDir: HostPath, options: PlanOptions, now: PlanTime) => Promise<Planned>;
  /**
   * The plan `plan` would make, made without changing anything (archives measured, not staged; no script
   * run): what the upper-space pre-flight of an overlay root measures before the transaction begins, and
   * what --dry-run shows. Without it (configure, rollback) the pre-flight waits for the plan itself.
   */
  preview?: (probe: Probe, options: PlanOptions) => Promise<Plan>;
  /** The archives the read phase read, if any (an out-of-space message quotes their sizes). */
  archives?: readonly ReadArchive[];
  /** For rollback: the transaction acted upon. */
  targetTxn?: number;
  /** Database writes that belong to the commit instant (same SQLite transaction). */
  commitAlso?: () => void;
  /** Clean-up after the journal's own, once committed. */
  afterFinish?: () => Promise<void>;
  /**
   * dpkg's action for the configure queue after the commit (configure-run.ts), on a root with dpkg's
   * database: what it configures (Planned.configureOrder, or every pending package) and which triggers
   * it processes. None (rollback): nothing is configured and triggers wait for the next run.
   */
  queue?: { action: DpkgAction; pending?: boolean; named?: readonly string[] };
}

/**
 * The one shape of every transaction, phase by phase: begin (durable) and journal the staging folder →
 * stage → probe → check → plan (pure) → check → execute the journaled steps → sync → commit (one SQLite
 * transaction) → finish (let go of backups). Any failure before the commit undoes what was done and
 * forgets the transaction, so the root and the database are exactly as before.
 *
 * On an overlay root the upper-space pre-flight comes first: the spec's preview measured against the
 * upper layer's room, refused before the transaction begins (no database row, no staging); the plan
 * itself is measured again before its first step (preinsts may have changed the root).
 */
export async function runTransaction(w: Writer, opts: TxnOptions, spec: TxnSpec): Promise<TxnOutcome> {
  const { db, loc } = w;
  await ensureNothingUnfinished(w, opts);
  // What dpkg, apt or a script changed since overmerge last looked is taken in before planning.
  if (w.dpkg) await importFromDpkg(db, w.dpkg, loc.root);
  const triggersBefore = w.dpkg ? readTriggerSnapshot(w.dpkg) : undefined;
  const events = opts.events;
  // Every state change written to dpkg's database, in the transaction, its undo and the configure queue.
  if (w.dpkg && events) w.dpkg.onStatus = (p) => events({ kind: 'status', pkg: labelOf(p.displayName, p.name, p.arch), state: p.status.state, version: p.version ?? '' });
  const options = { forceOverwrite: opts.forceOverwrite, conffiles: opts.conffiles };
  const room: UpperRoom = opts.upperPreflight === false && !opts.dryRun ? { kind: 'unreadable', why: 'skipped' } : await upperRoomOf(w, opts.mode);
  const dry = await preflight(w, spec, room, options, opts.dryRun === true);
  if (dry) return dry;
  const keepBackups = opts.keepBackups && spec.kind !== 'rollback';
  const scripts = await scriptSessionFor(w, opts.scripts);
  // The transaction's row and its first intent (the staging folder) in one SQLite commit. A crash inside
  // it leaves neither, as if the transaction had not begun. Committed without an fsync of the log: nothing
  // it describes acts outside overmerge's staging folder before the first intent that does, whose commit
  // makes this one durable too (the log is written in order). A power cut before that loses the row, and
  // may leave the staging folder, which the next transaction of that number removes (below).
  const { txnId, stagingDir, exec } = db.transactionLazily(() => {
    const id = db.txns.begin(spec.kind, spec.args, { backupsKept: keepBackups, targetTxn: spec.targetTxn });
    const dir = hostJoin(loc.stagingBase, `txn-${id}`);
    const executor = new Executor(db, id, opts.steps, {
      root: loc.root,
      mode: opts.mode,
      asRoot: opts.asRoot,
      crash: opts.crash,
      batchSize: opts.batchSize,
      onStep: (done, total) => opts.progress?.('merge', done, total),
      dpkg: w.dpkg,
      scripts,
    });
    executor.record({ kind: 'staging', dir }, { crashPoint: false });
    return { txnId: id, stagingDir: dir, exec: executor };
  });
  let committed = false;
  try {
    // Inside the try: a failure right after `begin` must forget the transaction like any other.
    opts.crash.tick();
    await makePrivateDirectory(loc.stagingBase, 'create staging folder', { parents: true });
    await removeTree(stagingDir); // a transaction's whose row a power cut lost: see the begin above
    await makePrivateDirectory(stagingDir, 'create staging folder');
    const probe = new Probe(loc.root, db, stagingDir);
    const asker = opts.askConffiles;
    const ask: PlanAsker | undefined = asker && ((qs) => asker(qs.map((q) => askedFor(loc.root, q))));
    const { plan, requests, scripts: flows = [], configureOrder = [] } = await spec.plan(probe, stagingDir, options, { run: (steps, before) => exec.run(steps, steps.length, before), scripts, ask });
    // Said when decided, as the prompts are: before the files are placed, where dpkg says it while placing them.
    for (const n of plan.conffileNotes ?? []) events?.({ kind: 'conffile-note', path: displayPath(n.path), note: n.note });
    if (room.kind === 'overlay') checkUpperRoom(await room.report(plan, true));
    await checkPlan(plan, probe.disk, { rootHost: loc.root.host, stagingDir, mode: opts.mode });
    applyCommitStates(plan, flows);
    // The triggers the unpacks and removals activate are recorded with the commit, as dpkg records them
    // before its checkpoint; the processing comes after it.
    const activation = w.dpkg && triggersBefore && spec.queue ? activationFor(plan, w.dpkg, triggersBefore, opts.triggers === false) : undefined;
    const epilogue: AnyPlannedStep[] = w.dpkg ? [...dpkgStepsFor(plan, w.dpkg, db, activation?.fields), ...(activation?.writes ?? []).map((intent) => ({ kind: 'dpkg-change' as const, intent }))] : [];
    // What planning made and let go of is freed before the steps' own garbage comes on top of the plan.
    const planned = stepCount(plan.steps);
    if (planned >= LARGE_TRANSACTION) collectGarbage();
    // The old version's postrm runs while its info files are still the installed ones; then they are replaced.
    const post = flows.flatMap((f) => f.post);
    // Read as they run: no copy of a huge plan's steps, and a run's members made a batch at a time.
    await exec.run(chain(stepsOf(plan.steps), post, epilogue), planned + post.length + epilogue.length);
    // The steps' journal pages and buffers are freed: their pages go back before the commit's own.
    releaseFreedMemory();
    await makeDurable(exec, loc.root.host);
    opts.crash.tick();
    commitPlan(db, txnId, plan, {
      snapshots: keepBackups && requests ? { requests, disk: probe.disk } : undefined,
      also: () => {
        spec.commitAlso?.();
        if (w.dpkg) recordDpkgFingerprints(db, w.dpkg, plan);
      },
    });
    committed = true;
    opts.crash.tick();
    await finishTransaction(w, txnId, {
      steps: opts.steps,
      crash: opts.crash,
      keepBackups,
      backupRetention: opts.backupRetention,
      after: spec.afterFinish,
    });
    const failures = await runTail(w, flows, scripts, opts.events);
    if (w.dpkg && spec.queue) {
      const dpkg = w.dpkg;
      // Named as the user named them (--triggers-only NAMES), or those of the plan still to be configured.
      const packages = spec.queue.named ?? configureOrder.flatMap((r) => {
        const now = dpkg.get(r.name, r.architecture);
        return now && (now.status.state === 'unpacked' || now.status.state === 'half-configured') ? [now.displayName] : [];
      });
      const forceDepends = opts.relations?.force.includes('depends') ?? false;
      // An install's relations were judged, forced problems told in dpkg's words, before it began
      // (relations/check.ts); a configure's are judged by the queue alone, which tells them.
      const warn = spec.kind === 'configure' ? opts.relations?.warn : undefined;
      const queue = { ...spec.queue, packages, triggers: opts.triggers, deferred: activation?.state.deferred, forceDepends, warn };
      failures.push(...(await runConfigureQueue(w, dpkg, scripts, queue, opts.events)));
    }
    return { txnId, plan, failures };
  } catch (err) {
    if (committed) throw cleanUpFailed(txnId, err);
    await rollBack(w, txnId, err, opts, scripts);
    if (err instanceof OvermergeError && err.code === 'E_NO_SPACE') {
      throw await explainNoSpace(err, loc.root.host, (spec.archives ?? []).map((a) => a.control));
    }
    throw err;
  }
}

/** The steps of each list in turn. */
function* chain<T>(...lists: Array<Iterable<T>>): Generator<T> {
  for (const list of lists) yield* list;
}

/**
 * The upper-space pre-flight, before the transaction begins: on an overlay root, the preview measured and
 * refused if it cannot fit. A dry run ends here with the preview and the estimate (an outcome to report).
 */
async function preflight(w: Writer, spec: TxnSpec, room: UpperRoom, options: PlanOptions, dryRun: boolean): Promise<TxnOutcome | undefined> {
  if (!spec.preview || (!dryRun && room.kind !== 'overlay')) {
    if (dryRun) throw new OvermergeError('E_INTERNAL', `a ${spec.kind} transaction has no dry run`, { op: 'dry run' });
    return undefined;
  }
  const plan = await spec.preview(new Probe(w.loc.root, w.db), options);
  const upper: DryRunUpper = room.kind === 'overlay' ? { kind: 'overlay', report: await room.report(plan, false) } : room;
  if (!dryRun) {
    if (upper.kind === 'overlay') checkUpperRoom(upper.report);
    return undefined;
  }
  return { txnId: 0, plan, failures: [], dryRun: [upper] };
}

/**
 * Everything the commit record describes on disk before it. A small transaction of kinds that sync
 * themselves (StepKind.syncsItself) is made durable by its batch: an fsync of each file and folder it touched (the batch syncs a whole
 * filesystem itself past its threshold). Otherwise one syncfs of the root's filesystem, unless the batch's
 * own flush made one there: a syncfs waits for every dirty page of the filesystem, other processes' too,
 * which on a busy machine costs hundreds of milliseconds where a one-file install's fsyncs cost a few.
 */
async function makeDurable(exec: Executor, root: HostPath): Promise<void> {
  const synced = await exec.sync.flush();
  if (!exec.syncedByBatch && !synced.has(await deviceOf(root))) await syncFilesystem(root);
}

/** A transaction's plan, and the requests it was made from (kept in snapshots for rollback). */
export interface Planned {
  plan: Plan;
  requests?: Requests;
  /** dpkg's maintainer-script protocol per package: its pre part ran already; post and tail are to come. */
  scripts?: PackageScripts[];
  /** The packages the configure queue is to configure, in the order given to it. */
  configureOrder?: ReadonlyArray<Pick<PackageRef, 'name' | 'architecture'>>;
}

/** The probe, check and plan phases for what installs, removals and rollbacks request. */
export async function planChanges(probe: Probe, db: Db, requests: Requests, options: PlanOptions, ask?: PlanAsker): Promise<Planned> {
  const input = await gatherPlanInput(probe, db, requests, options);
  checkInput(input);
  return { plan: await planAnswering(options, ask, (o) => makePlan({ ...input, options: o })), requests };
}

/**
 * After the commit the change is in; only letting go of backups and staging was cut short. The user must
 * hear both, and that writers refuse to start until `recover` has finished the clean-up.
 */
function cleanUpFailed(txnId: number, cause: unknown): OvermergeError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new OvermergeError('E_UNFINISHED', `transaction ${txnId} is committed, but its clean-up failed: ${why}`, {
    op: 'finish',
    hint: 'run `overmerge recover` to finish it',
    cause,
  });
}

/** Undoes a failed transaction and forgets it; if undoing fails too, both errors are told and recover is needed. */
async function rollBack(w: Writer, txnId: number, cause: unknown, opts: TxnOptions, scripts: ScriptSession | undefined): Promise<void> {
  try {
    await undoJournal(w.db, txnId, opts.steps, opts.crash, w.dpkg, scripts);
    w.db.txns.forget(txnId);
  } catch (undoErr) {
    const first = cause instanceof Error ? cause.message : String(cause);
    const second = undoErr instanceof Error ? undoErr.message : String(undoErr);
    throw new OvermergeError('E_UNFINISHED', `${first}; undoing transaction ${txnId} failed too: ${second}`, {
      op: 'roll back',
      hint: 'fix the cause, then run `overmerge recover`',
      cause: undoErr,
    });
  }
}

async function ensureNothingUnfinished(w: Writer, opts: TxnOptions): Promise<void> {
  const pending = [...w.db.txns.open(), ...w.db.txns.unfinished()];
  if (pending.length === 0) return;
  if (opts.autoRecover) {
    // Loaded only when there is something to recover: every writer passes here, few need it.
    const { recoverAll } = await import('./recover');
    await recoverAll(w, opts.steps, opts.crash, await scriptSessionFor(w, opts.scripts));
    return;
  }
  throw new OvermergeError('E_UNFINISHED', `transaction ${pending[0].id} (${pending[0].kind}) was interrupted`, {
    op: 'begin',
    hint: 'run `overmerge recover` first, or pass --auto-recover',
  });
}
