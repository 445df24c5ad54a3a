import type { DpkgDb, DpkgPackage, PackageChange, StatusTriple } from '../dpkg/dpkg-db';
import { installedScriptPath, scriptPresent } from '../dpkg/script-runner';
import type { ScriptCall } from '../dpkg/script-sequence';
import { activate, cloneState, parseUnincorp, processTriggers, type DpkgAction, type PlanStep, type ScriptOutcome, type TriggerState, type UnincorpEntry } from '../dpkg/triggers';
import type { PackageStatus } from '../db/types';
import { labelOf, type DpkgEvent, type PkgLabel } from '../model/events';
import type { Writer } from './context';
import { runInSession, type ScriptSession } from './script-session';
import { dpkgFingerprint } from './dpkg-import';
import { planDpkgIntent, type DpkgIntent } from './steps/dpkg-change';
import { readTriggerSnapshot, triggerWrites, type TriggerSnapshot } from './trigger-state';

/**
 * dpkg's configure queue, after the commit: each package to configure in dpkg's order (as soon as its
 * dependencies allow; one with pending triggers after everything else was tried), `postinst configure`
 * run, then the triggers this run activated processed (`postinst triggered "NAMES"`), until nothing is
 * left or a cycle is given up on. The order and every state come from the trigger planner
 * (src/dpkg/triggers/process.ts), which yields each postinst call before it happens; here the call is
 * made, and the states the planner reached are written to dpkg's database before each script and after
 * the last (and to overmerge's), as dpkg writes them (dpkg's database tells the state changes to the
 * events sink: context.ts) — this part is past the commit and never undone: a
 * failure leaves a package half-configured, named in the returned lines, and the queue goes on.
 */
export interface QueueRequest {
  action: DpkgAction;
  /** The packages named (dpkg's keys: `name` or `name:arch`), in order; with `pending`, none. */
  packages: readonly string[];
  pending?: boolean;
  /** false: --no-triggers. Default dpkg's (on, but off for --triggers-only with names). */
  triggers?: boolean;
  /** Triggers activated by this run's unpacks and removals, still to process (Activation.state.deferred). */
  deferred?: readonly string[];
  /** --force-depends, and where its warnings go (as the relations' own: RelationsOptions.warn). */
  forceDepends?: boolean;
  warn?: (message: string) => void;
}

export async function runConfigureQueue(w: Writer, dpkg: DpkgDb, session: ScriptSession | undefined, req: QueueRequest, emit?: (e: DpkgEvent) => void): Promise<string[]> {
  const failures: string[] = [];
  const snapshot = readTriggerSnapshot(dpkg);
  // What maintainer scripts since the commit (postrm remove, ...) left for dpkg-trigger is taken in first.
  const incorporated = activate(snapshot.state, [{ kind: 'unincorp', entries: snapshot.unincorp }]).state;
  incorporated.deferred = unique([...(req.deferred ?? []).filter((k) => k in incorporated.packages), ...incorporated.deferred]);
  const recorder = new StateRecorder(w, dpkg, snapshot);
  recorder.record(incorporated);
  const state = incorporated;
  const run = processTriggers(state, { action: req.action, packages: req.packages, pending: req.pending, triggers: req.triggers, inPlace: true, forceDepends: req.forceDepends });
  for (let r = run.next(); !r.done; ) {
    const step: PlanStep = r.value;
    let outcome: ScriptOutcome | undefined;
    if (step.kind === 'configure' || step.kind === 'triggered') {
      // dpkg names the package it starts on before it records that package's new state (apt's progress
      // reads the states after the `processing:` line); the others' changes come before.
      const processing = recorder.processing(step.kind === 'configure' ? 'configure' : 'trigproc', step.package);
      // No postinst to run (most of a bootstrap's packages): nothing can look at dpkg's database before
      // the next script, so these states are told now and written with that script's entry (or the
      // queue's last), not in an entry of their own with its two fsyncs.
      const runs = await postinstRuns(dpkg, session, recorder, step.package);
      recorder.recordAround(state, step.package, () => emit?.(processing), { deferWrite: !runs });
      outcome = runs ? await runPostinst(dpkg, session, recorder, step, failures) : {};
    } else if (step.kind === 'warning') {
      req.warn?.(step.message);
    } else {
      recorder.record(state);
      failures.push(oneLine(step.message));
      emit?.({ kind: 'error', subject: step.package, message: lastLine(step.message) });
    }
    r = run.next(outcome);
  }
  recorder.record(state);
  return failures;
}

/** Whether runPostinst would run a script for `key` (a session, a package, and its postinst present). */
async function postinstRuns(dpkg: DpkgDb, session: ScriptSession | undefined, rec: StateRecorder, key: string): Promise<boolean> {
  const ref = rec.refOf(key);
  if (session === undefined || ref === undefined || dpkg.get(ref.name, ref.arch) === undefined) return false;
  return scriptPresent(session.root, installedScriptPath(key, 'postinst', session.admindir));
}

/** A postinst call, and what it left for the planner: its exit status and the dpkg-trigger calls it made. */
async function runPostinst(dpkg: DpkgDb, session: ScriptSession | undefined, rec: StateRecorder, step: Extract<PlanStep, { kind: 'configure' | 'triggered' }>, failures: string[]): Promise<ScriptOutcome> {
  const ref = rec.refOf(step.package);
  const now = ref && dpkg.get(ref.name, ref.arch);
  if (session === undefined || now === undefined) return {};
  const args = step.kind === 'configure' ? ['configure', priorConfigVersion(now)] : ['triggered', step.triggers.join(' ')];
  const refcount = dpkg.instanceCount(now.name);
  const call: ScriptCall = {
    key: step.package,
    package: now.name,
    arch: now.arch,
    version: now.version ?? '',
    source: 'installed',
    script: 'postinst',
    args,
    ifAbsent: 'ok',
    refcount,
  };
  const result = await runInSession(session, { call, script: installedScriptPath(step.package, 'postinst', session.admindir) });
  const left = rec.takeUnincorp();
  const dpkgTrigger = left.flatMap((e) => e.awaiters.map((by) => (by === null ? { trigger: e.trigger, await: false } : { trigger: e.trigger, by })));
  if (result.status !== 'failed') return { dpkgTrigger };
  // The planner words dpkg's error from the exit status; a script that could not run at all says why here.
  if (result.exitCode === undefined) failures.push(result.error.message);
  return { dpkgTrigger, exitStatus: result.exitCode ?? 1 };
}

/** The version `postinst configure` is given: the one last configured (Config-Version), '' when there was none. */
function priorConfigVersion(p: { configVersion?: string }): string {
  return p.configVersion ?? '';
}

/**
 * Writes the planner's states as they are reached: for each package whose state or trigger fields changed
 * since the last write, a stanza update in dpkg's database (and the state in overmerge's; DpkgDb.onStatus
 * turns the former into status events); Unincorp emptied once taken in.
 */
class StateRecorder {
  /** The states as last written to dpkg's database. */
  private last: TriggerSnapshot;
  /** States told (status events) but not written yet (recordAround's deferWrite), by instance. */
  private readonly told = new Map<string, StatusTriple['state']>();

  constructor(
    private readonly w: Writer,
    private readonly dpkg: DpkgDb,
    snapshot: TriggerSnapshot,
  ) {
    this.last = snapshot;
  }

  refOf(key: string): { name: string; arch: string } | undefined {
    return this.last.refs.get(key);
  }

  record(state: TriggerState): void {
    this.recordAround(state, undefined, () => {});
  }

  /**
   * record(), `key`'s own change told after `between` (dpkg names the package it starts on, then records
   * its new state: apt's progress reads the states after the `processing:` line), the others' before it.
   * The stanzas are written as one update entry — no script runs between them — and the events told in
   * that order: one file and two fsyncs where dpkg writes one a package.
   *
   * With `deferWrite` (no script runs before the next call), the events are told and nothing is written:
   * the next write, diffing from the states last written, carries these changes too, and does not tell
   * them again.
   */
  recordAround(state: TriggerState, key: string | undefined, between: () => void, opts: { deferWrite?: boolean } = {}): void {
    const kept = key === undefined ? undefined : this.last.state.packages[key];
    const allBut: TriggerState = kept === undefined ? state : { ...state, packages: { ...state.packages, [key as string]: kept } };
    const first = triggerWrites(this.last, allBut, []);
    const second = allBut === state ? [] : triggerWrites({ state: allBut, unincorp: [], refs: this.last.refs }, state, []);
    const stanzas = [...first, ...second].filter((i) => i.op === 'trigger-fields');
    // Changes to triggers/ (Unincorp taken in) are written at once, as always.
    if (opts.deferWrite === true && stanzas.length === first.length + second.length) {
      const firstCount = first.length;
      stanzas.slice(0, firstCount).forEach((i) => this.tell(i));
      between();
      stanzas.slice(firstCount).forEach((i) => this.tell(i));
      return;
    }
    // Each stanza's fingerprint as overmerge knew it before this write: one still matching what overmerge
    // recorded is overmerge's own, so the new one is recorded too and the next transaction does not read
    // the package again (its files, looked up in the root, one SQLite commit each) for a change it made.
    const before: Array<{ name: string; arch: string; fingerprint: string }> = [];
    for (const i of stanzas) {
      const now = this.dpkg.get(i.name, i.arch);
      if (now) before.push({ name: i.name, arch: i.arch, fingerprint: dpkgFingerprint(now) });
    }
    const changes = stanzas.map((i) => planDpkgIntent(this.dpkg, i)).filter((c): c is PackageChange => c.kind === 'package');
    const moved = this.dpkg.applyPackages(changes);
    // triggers/ after the stanzas that took its activations in (Unincorp emptied last, as dpkg does).
    for (const i of [...first, ...second]) if (i.op === 'trigger-files') this.dpkg.apply(planDpkgIntent(this.dpkg, i));
    const firstCount = stanzas.length - second.filter((i) => i.op === 'trigger-fields').length;
    const told = (p: DpkgPackage | undefined): void => {
      if (p === undefined) return;
      // Told already when its write was deferred: said once, when it happened.
      if (this.told.get(instanceKey(p.name, p.arch)) !== p.status.state) this.dpkg.onStatus?.(p);
    };
    moved.slice(0, firstCount).forEach(told);
    between();
    moved.slice(firstCount).forEach(told);
    this.told.clear();
    // Without an fsync of its own: dpkg's database, written and synced above, is what counts, and a
    // record lost in a power cut only makes the next transaction read those packages from it again.
    this.w.db.transactionLazily(() => {
      for (const [k, p] of Object.entries(state.packages)) {
        const was = this.last.state.packages[k];
        if (was === undefined || was.status === p.status) continue;
        const ref = this.last.refs.get(k);
        const row = ref && this.w.db.packages.get(ref.name, ref.arch);
        if (row) this.w.db.packages.setStatus(row.id, p.status as PackageStatus, null);
      }
      const known = before.length > 0 ? this.w.db.dpkgMirror.fingerprints() : new Map<number, string>();
      for (const { name, arch, fingerprint } of before) {
        const row = this.w.db.packages.get(name, arch === '' ? 'all' : arch);
        const now = this.dpkg.get(name, arch);
        if (row && now && known.get(row.id) === fingerprint) this.w.db.dpkgMirror.set(row.id, dpkgFingerprint(now));
      }
    });
    this.last = { state: cloneState(state), unincorp: [], refs: this.last.refs };
  }

  /**
   * The status event of a state change whose write is deferred, as DpkgDb.onStatus would tell it once
   * written: only a change of state, the rest of the package as dpkg's database holds it.
   */
  private tell(i: Extract<DpkgIntent, { op: 'trigger-fields' }>): void {
    const now = this.dpkg.get(i.name, i.arch);
    if (now === undefined || i.state === undefined) return;
    const id = instanceKey(i.name, i.arch);
    if ((this.told.get(id) ?? now.status.state) === i.state) return;
    this.told.set(id, i.state);
    this.dpkg.onStatus?.({ ...now, status: { ...now.status, state: i.state } });
  }

  /** What dpkg-trigger wrote to Unincorp since the last look, emptied as dpkg empties it. */
  takeUnincorp(): UnincorpEntry[] {
    this.dpkg.refreshTables();
    const entries = parseUnincorp(this.dpkg.triggers.get('Unincorp')?.toString('latin1') ?? '');
    if (entries.length > 0) this.dpkg.apply(this.dpkg.planTriggerFiles({ Unincorp: '' }));
    return entries;
  }

  processing(action: 'configure' | 'trigproc', key: string): DpkgEvent {
    const version = this.last.state.packages[key]?.version ?? '<none>';
    return { kind: 'processing', action, pkg: this.label(key), installedVersion: version, availableVersion: version };
  }

  label(key: string): PkgLabel {
    const ref = this.last.refs.get(key);
    return ref ? labelOf(key, ref.name, ref.arch) : { name: key, qualified: key };
  }
}

function instanceKey(name: string, arch: string): string {
  return `${name}:${arch}`;
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** dpkg's multi-line error ("dpkg: error processing package P (--configure):\n MESSAGE\n") as one line. */
function oneLine(message: string): string {
  return message
    .replace(/^dpkg: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

function lastLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? message;
}
