import { checkDependencies } from './depcheck';
import { breakKey, findDependencyCycle, type DependencyBreak } from './dep-cycles';
import { RelationCandidates } from './relation-candidates';
import { addToUnincorp, type UnincorpEntry } from './formats';
import { checkTriggerCycle, NO_CYCLE_TRACKING, type CycleTracker, type TriggerCycle } from './cycle';
import { dpkgTableOrder } from './hash-order';
import { cloneState, type TriggerPackage, type TriggerState } from './model';
import { TriggerWorld, type TriggerChange } from './world';

/**
 * The configure-and-trigger part of a dpkg run, planned: which postinst calls dpkg makes and in which
 * order, what it gives up on, and the state it leaves (src/main/packages.c process_queue, configure.c
 * deferred_configure, trigproc.c trigproc and trigproc_run_deferred). Pure: maintainer scripts are not run,
 * their effect on triggers (dpkg-trigger calls, failure) is asked of `options.scripts`, which the engine
 * answers after really running them and a test answers from the fixture packages' scripts.
 *
 * The order, in short: the packages of the run are configured in queue order, each as soon as its
 * dependencies allow; a queued package that has pending triggers is postponed until dpkg has tried
 * everything else twice (dependtry 3), unless a package waits on a triggers-awaited dependency, whose
 * awaited package is then processed first; after the queue, the packages that got triggers during the run
 * are processed in the order they got their first one (the deferred queue).
 *
 * From dependtry 2 on, a dependency cycle is broken before a package is configured or its triggers are
 * processed, as dpkg's findbreakcycle breaks it (dep-cycles.ts); the breaks are listed in the plan.
 *
 * --force-depends turns a dependency that cannot be met into dpkg's warning (a `warning` step).
 *
 * Not modelled: the other forcing options, Breaks, removals (the removal itself is `activate` events;
 * `remove`/`purge` here only process the deferred queue).
 */
export type DpkgAction = 'install' | 'unpack' | 'configure' | 'triggers-only' | 'remove' | 'purge';

export interface ScriptCall {
  readonly package: string;
  /**
   * `['configure']` (the version argument that follows is the script runner's business) or
   * `['triggered', 'NAME1 NAME2 ...']`: the pending names as one argument, in dpkg's order.
   */
  readonly args: readonly ['configure'] | readonly ['triggered', string];
}

export interface ScriptOutcome {
  /** dpkg-trigger calls the script makes, in order (`await: false` is --no-await; `by` is --by-package). */
  readonly dpkgTrigger?: ReadonlyArray<{ trigger: string; await?: boolean; by?: string }>;
  /** Non-zero: the script fails, the package stays half-configured. */
  readonly exitStatus?: number;
}

export interface ProcessOptions {
  action: DpkgAction;
  /** --pending / -a. */
  pending?: boolean;
  /** install: the packages unpacked in this run, in order; configure/triggers-only: the packages named. */
  packages?: readonly string[];
  /** --triggers (true) / --no-triggers (false). dpkg's default: off for --triggers-only with names, else on. */
  triggers?: boolean;
  /** Paths dpkg installs while configuring a package (new conffiles): activated with their parents. */
  configurePaths?: Readonly<Record<string, readonly string[]>>;
  /**
   * Work on the given state object itself rather than a copy, so that a caller running the steps as they
   * come can record each state as it is reached (dpkg writes a package's state before and after its postinst).
   */
  inPlace?: boolean;
  /**
   * --force-depends: a dependency that cannot be met no longer stops a package's configuration (or trigger
   * processing); dpkg warns with the problems and goes on.
   */
  forceDepends?: boolean;
}

export interface PlanOptions extends ProcessOptions {
  /** The effect of a maintainer script; undefined means it exits 0 and activates nothing. */
  scripts?: (call: ScriptCall) => ScriptOutcome | undefined;
}

export type PlanStep =
  | { kind: 'configure'; package: string }
  | { kind: 'triggered'; package: string; triggers: string[] }
  | ({ kind: 'cycle'; package: string } & TriggerCycle)
  | { kind: 'error'; package: string; message: string }
  /** A forced dependency problem (--force-depends): dpkg's warning, then the package is processed. */
  | { kind: 'warning'; package: string; message: string };

export interface TriggerPlan {
  steps: PlanStep[];
  state: TriggerState;
  changes: TriggerChange[];
  /** Packages dpkg could not get to (the queue stopped making progress before a forcing level). */
  unresolved: string[];
  /** The dependency cycles broken on the way, in order. */
  cycleBreaks: DependencyBreak[];
}

// dpkg's enum dependtry.
const TRY_CYCLES = 2;
const TRY_TRIGGERS = 3;
const TRY_TRIGGERS_CYCLES = 4;
const TRY_FORCE_DEPENDS_VERSION = 5;

/** A failure dpkg reports per package ("dpkg: error processing package P (--ACTION):"), then goes on. */
class PackageFailure extends Error {}

/**
 * The processing as it goes, for the engine: each step is yielded before it happens, and for a
 * `configure` or `triggered` step the engine runs that postinst and passes what it did back with
 * `next(outcome)` (dpkg-trigger calls: the Unincorp the script left; its exit status). Still pure: the
 * generator does no I/O and the same outcomes give the same steps.
 */
export function* processTriggers(state: TriggerState, options: ProcessOptions): Generator<PlanStep, TriggerPlan, ScriptOutcome | undefined> {
  return yield* new Planner(state, options).run();
}

/** The whole processing at once, each postinst's effect asked of `options.scripts`. */
export function planTriggerProcessing(state: TriggerState, options: PlanOptions): TriggerPlan {
  const run = processTriggers(state, options);
  for (let r = run.next(); ; ) {
    if (r.done) return r.value;
    const step = r.value;
    const call: ScriptCall | undefined =
      step.kind === 'configure'
        ? { package: step.package, args: ['configure'] }
        : step.kind === 'triggered'
          ? { package: step.package, args: ['triggered', step.triggers.join(' ')] }
          : undefined;
    r = run.next(call && options.scripts?.(call));
  }
}

type Steps<T = void> = Generator<PlanStep, T, ScriptOutcome | undefined>;

class Planner {
  private readonly world: TriggerWorld;
  private readonly steps: PlanStep[] = [];
  private readonly queue: string[] = [];
  private readonly toBeConfigured = new Set<string>();
  private dependtry = 1;
  private sincenothing = 0;
  private progressByTrigproc: string | undefined;
  private cycles: CycleTracker = NO_CYCLE_TRACKING;
  /** Dependency alternatives broken to get past a cycle (breakKey), and the breaks in order. */
  private readonly broken = new Set<string>();
  private readonly cycleBreaks: DependencyBreak[] = [];
  /** The explanation of the last dependency check (dpkg's aemsgs), for a forced problem's warning. */
  private lastProblems: string[] = [];
  /** Who may satisfy a relation, kept while no package's facts change (the statuses are read at each use). */
  private candidateIndex?: { revision: number; candidates: RelationCandidates };

  constructor(
    state: TriggerState,
    private readonly options: ProcessOptions,
  ) {
    const triggers = options.triggers ?? !(options.action === 'triggers-only' && !options.pending);
    this.world = new TriggerWorld(options.inPlace ? state : cloneState(state), { noTriggers: !triggers });
  }

  *run(): Steps<TriggerPlan> {
    let unresolved: string[] = [];
    if (this.fillQueue()) unresolved = yield* this.processQueue();
    yield* this.runDeferred();
    return { steps: this.steps, state: this.world.state, changes: this.world.changes, unresolved, cycleBreaks: this.cycleBreaks };
  }

  /** Records a step and hands it to the caller; for a postinst, what the caller says it did. */
  private *step(step: PlanStep): Steps<ScriptOutcome | undefined> {
    this.steps.push(step);
    return yield step;
  }

  private get packages(): Record<string, TriggerPackage> {
    return this.world.state.packages;
  }

  private get candidates(): RelationCandidates {
    const revision = this.world.revision;
    if (this.candidateIndex?.revision !== revision) this.candidateIndex = { revision, candidates: new RelationCandidates(this.packages) };
    return this.candidateIndex.candidates;
  }

  private tableOrder(): string[] {
    return dpkgTableOrder(Object.keys(this.packages).sort());
  }

  private wanted(p: TriggerPackage): boolean {
    return (p.want ?? 'install') === 'install' || p.want === 'hold';
  }

  /** What dpkg puts in its queue before processing (packages.c enqueue_pending / enqueue_specified). */
  private fillQueue(): boolean {
    const { action, pending } = this.options;
    if (action === 'unpack' || action === 'remove' || action === 'purge') return false;
    if (pending && action !== 'install') {
      for (const name of this.tableOrder()) {
        const p = this.packages[name];
        const configurable = p.status === 'unpacked' || p.status === 'half-configured';
        const eligible = p.pending.length > 0 || (action === 'configure' && configurable);
        if (eligible && this.wanted(p)) this.enqueue(name);
      }
    } else {
      for (const name of this.options.packages ?? []) this.enqueue(name);
      if (action === 'configure') this.populateDeferred();
    }
    for (const name of this.queue) this.toBeConfigured.add(name);
    return true;
  }

  /** trigproc_populate_deferred: every triggered package is offered for processing after the queue. */
  private populateDeferred(): void {
    for (const name of this.tableOrder()) {
      const p = this.packages[name];
      if (p.pending.length > 0 && (p.status === 'triggers-awaited' || p.status === 'triggers-pending') && this.wanted(p)) {
        this.world.enqueueDeferred(name);
      }
    }
  }

  private enqueue(name: string): void {
    if (!this.queue.includes(name)) this.queue.push(name);
  }

  private *processQueue(): Steps<string[]> {
    while (this.queue.length > 0) {
      let name = this.queue.shift() as string;
      let asConfigure = false;
      if (this.sincenothing++ > this.queue.length * 3 + 2) {
        this.dependtry++;
        this.sincenothing = 0;
      } else if (this.sincenothing > this.queue.length * 2 + 2) {
        const fix = this.progressByTrigproc === undefined ? undefined : this.packages[this.progressByTrigproc];
        if (this.dependtry >= TRY_TRIGGERS && fix && fix.pending.length > 0) {
          this.enqueue(name);
          name = fix.name;
          this.progressByTrigproc = undefined;
          asConfigure = true;
        } else {
          this.dependtry++;
          this.sincenothing = 0;
        }
      }
      if (this.dependtry >= TRY_FORCE_DEPENDS_VERSION) {
        // dpkg would go on at a forcing level, which needs a --force-depends* option.
        return [name, ...this.queue.filter((n) => n !== name)];
      }
      yield* this.guarded(name, () => this.processOne(name, asConfigure));
    }
    return [];
  }

  private *processOne(name: string, asConfigure: boolean): Steps {
    const p = this.packages[name];
    if (!p) throw new PackageFailure(`no package named '${name}' is installed, cannot configure`);
    const action = asConfigure ? 'configure' : this.options.action;
    if (action === 'triggers-only' && p.pending.length === 0) {
      throw new PackageFailure(`package ${name} is not ready for trigger processing\n (current status '${p.status}' with no pending triggers)`);
    }
    if (action === 'install' && p.status === 'not-installed') return;
    if (p.pending.length > 0) yield* this.trigproc(name, 'queued');
    else yield* this.configure(name);
  }

  private *guarded(name: string, fn: () => Steps): Steps {
    try {
      yield* fn();
    } catch (err) {
      if (!(err instanceof PackageFailure)) throw err;
      this.toBeConfigured.delete(name);
      yield* this.step({ kind: 'error', package: name, message: this.errorText(name, err.message) });
    }
  }

  private errorText(name: string, message: string): string {
    return `dpkg: error processing package ${name} (--${this.options.action}):\n ${message}\n`;
  }

  /** deferred_configure, for what matters to triggers. */
  private *configure(name: string): Steps {
    const p = this.packages[name];
    if (p.status === 'not-installed') throw new PackageFailure(`no package named '${name}' is installed, cannot configure`);
    if (p.status === 'installed') throw new PackageFailure(`package ${name} is already installed and configured`);
    if (p.status !== 'unpacked' && p.status !== 'half-configured') {
      throw new PackageFailure(`package ${name} is not ready for configuration\n cannot configure (current status '${p.status}')`);
    }
    this.breakCycleFrom(name);
    const deps = this.checkDeps(p);
    if (deps === 'defer') {
      this.toBeConfigured.add(name);
      this.enqueue(name);
      return;
    }
    this.cycles = NO_CYCLE_TRACKING; // configuring is progress no trigger cycle can undo
    if (deps === 'halt') {
      this.sincenothing = 0;
      if (!this.options.forceDepends) throw new PackageFailure('dependency problems - leaving unconfigured');
      yield* this.step({ kind: 'warning', package: name, message: `${name}: dependency problems, but configuring anyway as you requested:\n${this.lastProblems.join('')}` });
    }
    this.sincenothing = 0;
    this.world.activateDeclared(name, p.declarations);
    if (p.status === 'unpacked') {
      this.world.note(p);
      for (const path of this.options.configurePaths?.[name] ?? []) this.world.activatePath(path, name);
    }
    this.world.setStatus(name, 'half-configured');
    this.afterPostinst(name, yield* this.step({ kind: 'configure', package: name }));
  }

  /** trigproc: run a package's pending triggers, or only release its awaiters if it has none. */
  private *trigproc(name: string, type: 'queued' | 'deferred'): Steps {
    this.world.state.deferred = this.world.state.deferred.filter((n) => n !== name);
    const p = this.packages[name];
    if (!p) return;
    if (p.pending.length === 0) {
      this.world.clearAwaiters(name);
      return;
    }
    if (this.dependtry < TRY_TRIGGERS && type === 'queued') {
      this.enqueue(name); // not a triggers try yet: configure what can be configured first
      return;
    }
    this.breakCycleFrom(name);
    const deps = this.checkDeps(p);
    if (deps === 'defer') {
      if (this.dependtry >= TRY_TRIGGERS_CYCLES && (yield* this.giveUpOnCycle(name)) === name) return;
      // After the queue is done (deferred processing) this puts the package in a queue nobody reads again:
      // it stays triggers-pending, as in dpkg.
      this.enqueue(name);
      return;
    }
    if (deps === 'halt') {
      if (type === 'deferred') {
        this.cycles = NO_CYCLE_TRACKING;
        return;
      }
      this.sincenothing = 0;
      if (!this.options.forceDepends) throw new PackageFailure('dependency problems - leaving triggers unprocessed');
      yield* this.step({ kind: 'warning', package: name, message: `${name}: dependency problems, but processing trigger anyway as you requested:\n${this.lastProblems.join('')}` });
    }
    if ((yield* this.giveUpOnCycle(name)) === name) return;
    const triggers = p.pending.slice();
    this.world.setStatus(name, 'half-configured'); // drops the pending triggers, releases the awaiters
    this.sincenothing = 0;
    this.afterPostinst(name, yield* this.step({ kind: 'triggered', package: name, triggers }));
  }

  /** findbreakcycle, from dependtry 2 on: a cycle through `name` has one dependency broken; progress is made. */
  private breakCycleFrom(name: string): void {
    if (this.dependtry < TRY_CYCLES) return;
    const found = findDependencyCycle(name, this.packages, this.broken, this.toBeConfigured, this.candidates);
    if (!found) return;
    this.broken.add(breakKey(found.package, found.group, found.alternative));
    this.cycleBreaks.push(found);
    this.sincenothing = 0;
  }

  private checkDeps(p: TriggerPackage): 'ok' | 'defer' | 'halt' {
    const check = checkDependencies(p, this.packages, this.toBeConfigured, this.broken, this.candidates);
    if (check.fixByTrigger !== undefined) this.progressByTrigproc = check.fixByTrigger;
    this.lastProblems = check.problems;
    return check.verdict;
  }

  /** check_trigger_cycle; the package given up on (left half-configured), if a cycle was found. */
  private *giveUpOnCycle(processing: string): Steps<string | undefined> {
    const { tracker, cycle } = checkTriggerCycle(this.cycles, processing, this.packages);
    this.cycles = tracker;
    if (!cycle) return undefined;
    this.toBeConfigured.delete(cycle.giveUp);
    this.world.setStatus(cycle.giveUp, 'half-configured');
    // dpkg's notice about the cycle, then its per-package error for the package given up on.
    const message = cycle.message + this.errorText(cycle.giveUp, 'triggers looping, abandoned');
    yield* this.step({ kind: 'cycle', package: cycle.giveUp, ...cycle, message });
    return cycle.giveUp;
  }

  /** What follows a postinst (post_postinst_tasks): the new state, then Unincorp incorporated. */
  private afterPostinst(name: string, outcome: ScriptOutcome | undefined): void {
    let unincorp: UnincorpEntry[] = [];
    for (const t of outcome?.dpkgTrigger ?? []) {
      unincorp = addToUnincorp(unincorp, t.trigger, t.await === false ? null : (t.by ?? name));
    }
    if (outcome?.exitStatus) {
      this.world.incorporate(unincorp); // dpkg's cleanup still incorporates, the package half-configured
      const what = `installed ${name} package post-installation script subprocess`;
      throw new PackageFailure(`${what} returned error exit status ${outcome.exitStatus}`);
    }
    const p = this.packages[name];
    p.pending = [];
    this.world.setStatus(name, p.awaited.length > 0 ? 'triggers-awaited' : 'installed');
    this.world.incorporate(unincorp);
  }

  /** trigproc_run_deferred: each triggered package in turn, errors reported and passed over. */
  private *runDeferred(): Steps {
    while (this.world.state.deferred.length > 0) {
      const name = this.world.state.deferred[0];
      yield* this.guarded(name, () => this.trigproc(name, 'deferred'));
    }
  }
}
