import type { DpkgDb } from '../dpkg/dpkg-db';
import { installedScriptPath } from '../dpkg/script-runner';
import type { ScriptCall } from '../dpkg/script-sequence';
import { activate, parseUnincorp, processTriggers, type DpkgAction, type PlanStep, type ScriptOutcome, type TriggerState, type UnincorpEntry } from '../dpkg/triggers';
import type { PackageStatus } from '../db/types';
import { labelOf, type DpkgEvent, type PkgLabel } from '../model/events';
import type { Writer } from './context';
import { runInSession, type ScriptSession } from './script-session';
import { planDpkgIntent } from './steps/dpkg-change';
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
      recorder.recordAllBut(state, step.package);
      emit?.(recorder.processing(step.kind === 'configure' ? 'configure' : 'trigproc', step.package));
      recorder.record(state);
      outcome = await runPostinst(dpkg, session, recorder, step, failures);
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

/** A postinst call, and what it left for the planner: its exit status and the dpkg-trigger calls it made. */
async function runPostinst(dpkg: DpkgDb, session: ScriptSession | undefined, rec: StateRecorder, step: Extract<PlanStep, { kind: 'configure' | 'triggered' }>, failures: string[]): Promise<ScriptOutcome> {
  const ref = rec.refOf(step.package);
  const now = ref && dpkg.get(ref.name, ref.arch);
  if (session === undefined || now === undefined) return {};
  const args = step.kind === 'configure' ? ['configure', priorConfigVersion(now)] : ['triggered', step.triggers.join(' ')];
  const refcount = dpkg.packages().filter((p) => p.name === now.name && p.status.state !== 'not-installed').length;
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
  private last: TriggerSnapshot;

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
    for (const intent of triggerWrites(this.last, state, [])) this.dpkg.apply(planDpkgIntent(this.dpkg, intent));
    for (const [key, p] of Object.entries(state.packages)) {
      const was = this.last.state.packages[key];
      if (was === undefined || was.status === p.status) continue;
      const ref = this.last.refs.get(key);
      const row = ref && this.w.db.packages.get(ref.name, ref.arch);
      if (row) this.w.db.packages.setStatus(row.id, p.status as PackageStatus, null);
    }
    this.last = { state: structuredClone(state), unincorp: [], refs: this.last.refs };
  }

  /** record(), but `key` kept as it was last recorded (its changes are left for the next record). */
  recordAllBut(state: TriggerState, key: string): void {
    const before = this.last.state.packages[key];
    if (before === undefined) return this.record(state);
    this.record({ ...state, packages: { ...state.packages, [key]: before } });
  }

  /** What dpkg-trigger wrote to Unincorp since the last look, emptied as dpkg empties it. */
  takeUnincorp(): UnincorpEntry[] {
    this.dpkg.refresh();
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
