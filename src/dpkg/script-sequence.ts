import { OvermergeError } from '../errors';
import type { CallSpec, CleanupGroup, FilesStep, Frame, PackageState, ScriptSequence, StateChange } from './script-protocol';

/**
 * Walks a ScriptSequence the way dpkg's error handling does, one step at a time, as a pure state machine:
 * `currentStep` says what to do, the caller does it (runs the script, places the files) and reports the
 * result to `advance`. The cursor is plain data, so the engine can journal it (or just the list of results,
 * and `replay` them) and, after a crash, know exactly which abort calls remain (`abandon`, `remainingSteps`).
 *
 * dpkg's rules, as encoded here:
 * - A row's abort call is pushed before its script runs, so a failure of the script itself unwinds it.
 * - A failing script with a fallback runs the fallback (the new package's script); only if that fails too
 *   (or is missing) does dpkg unwind.
 * - Unwinding runs the pushed abort calls newest first and stops at the newest checkpoint before the failure.
 * - Once an abort call of a group fails, the group's remaining abort calls are skipped (cleanup.c's
 *   cleanup_pkg_failed / cleanup_conflictor_failed); a failed undo of the unpacked files counts against both.
 * - A missing script is a success (state changes apply), except where the row says otherwise (a fallback).
 */

/** A script call as it is made: the frame's call and what dpkg computes when it runs it. */
export interface ScriptCall extends CallSpec {
  /** DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT: instances of the name not in state not-installed, at the call. */
  readonly refcount: number;
}

export type Step =
  | {
      readonly kind: 'script';
      /** forward: the row's call; fallback: the new package's script after the installed one failed; abort: an unwind call. */
      readonly role: 'forward' | 'fallback' | 'abort';
      readonly frame: number;
      readonly row: string;
      readonly call: ScriptCall;
    }
  | {
      readonly kind: 'files';
      /** undo: put back what the forward step of this frame did (dpkg's cu_installnew, newest first). */
      readonly role: 'forward' | 'undo';
      readonly frame: number;
      readonly row: string;
      readonly files: FilesStep;
      readonly key: string;
    };

/** How a step ended. `absent`: the script does not exist (for files steps it means the same as ok). */
export type StepResult = 'ok' | 'absent' | 'failed';

export interface Cursor {
  /** The frame being worked on (forward or fallback), or frames.length once past the end. */
  readonly frame: number;
  readonly phase: 'forward' | 'fallback' | 'unwind' | 'done';
  /** While unwinding: the frames whose cleanup is still to run, newest first. */
  readonly unwind: readonly number[];
  readonly failedGroups: readonly CleanupGroup[];
  readonly states: Readonly<Record<string, PackageState>>;
  /** Steps completed so far: the N of "step N of the sequence is done". */
  readonly steps: number;
  /** Set when done: whether the operation went through or was unwound. */
  readonly outcome?: 'succeeded' | 'failed';
}

/** The cursor before the first step (frames without an action before it are already applied). */
export function begin(seq: ScriptSequence): Cursor {
  const start: Cursor = { frame: 0, phase: 'forward', unwind: [], failedGroups: [], states: seq.initial, steps: 0 };
  return enter(seq, start, 0);
}

/** What to do now, or undefined when the sequence is done. */
export function currentStep(seq: ScriptSequence, c: Cursor): Step | undefined {
  switch (c.phase) {
    case 'done':
      return undefined;
    case 'forward': {
      const f = seq.frames[c.frame];
      if (f.kind === 'script') return { kind: 'script', role: 'forward', frame: c.frame, row: f.row, call: made(seq, c, f.call) };
      if (f.kind === 'files') return { kind: 'files', role: 'forward', frame: c.frame, row: f.row, files: f.files, key: f.key };
      return internal(`cursor on a ${f.kind} frame`);
    }
    case 'fallback': {
      const f = scriptFrame(seq, c.frame);
      return { kind: 'script', role: 'fallback', frame: c.frame, row: f.row, call: made(seq, c, f.fallback ?? internal('no fallback')) };
    }
    case 'unwind': {
      const i = c.unwind[0];
      const f = seq.frames[i];
      if (f.kind === 'files') return { kind: 'files', role: 'undo', frame: i, row: f.row, files: f.files, key: f.key };
      const cleanup = scriptFrame(seq, i).cleanup ?? internal('no cleanup');
      return { kind: 'script', role: 'abort', frame: i, row: f.row, call: made(seq, c, cleanup.call) };
    }
  }
}

/** The cursor after the current step ended with `result`. */
export function advance(seq: ScriptSequence, c: Cursor, result: StepResult): Cursor {
  const step = currentStep(seq, c);
  if (step === undefined) return internal('advance past the end of the sequence');
  const done = { ...c, steps: c.steps + 1 };
  const ok = result === 'ok' || (result === 'absent' && (step.kind === 'files' || step.call.ifAbsent === 'ok'));
  switch (c.phase) {
    case 'forward': {
      const f = seq.frames[c.frame];
      if (ok) return enter(seq, applied(done, after(f)), c.frame + 1);
      if (f.kind === 'script' && f.fallback) return { ...done, phase: 'fallback' };
      return startUnwind(seq, done, c.frame, true);
    }
    case 'fallback':
      if (ok) return enter(seq, applied(done, after(seq.frames[c.frame])), c.frame + 1);
      return startUnwind(seq, done, c.frame, true);
    case 'unwind': {
      const [i, ...rest] = c.unwind;
      const f = seq.frames[i];
      let next: Cursor = { ...done, unwind: rest };
      if (ok) {
        if (f.kind === 'script') next = applied(next, f.cleanup!.after);
      } else {
        const failed: CleanupGroup[] = f.kind === 'script' ? [f.cleanup!.group] : ['package', 'conflictor'];
        next = { ...next, failedGroups: [...new Set([...next.failedGroups, ...failed.filter((g) => g !== 'always')])] };
      }
      return unwindNext(seq, next);
    }
    default:
      return internal('advance when done');
  }
}

/**
 * After a crash: the step in flight (`inFlight`: its intent was journaled but not its end) counts as
 * failed, and no fallback is tried, since recovery goes back, not forward. A forward step that never
 * started pushed no abort call, so unwinding starts below it. Returns the cursor to carry on from.
 */
export function abandon(seq: ScriptSequence, c: Cursor, inFlight: boolean): Cursor {
  switch (c.phase) {
    case 'done':
      return c;
    case 'forward':
      return startUnwind(seq, inFlight ? { ...c, steps: c.steps + 1 } : c, c.frame, inFlight);
    case 'fallback':
      return startUnwind(seq, { ...c, steps: inFlight ? c.steps + 1 : c.steps }, c.frame, true);
    case 'unwind':
      return inFlight ? advance(seq, c, 'failed') : c;
  }
}

/** The cursor after the given results, from the start. */
export function replay(seq: ScriptSequence, results: readonly StepResult[]): Cursor {
  return results.reduce((c, r) => advance(seq, c, r), begin(seq));
}

/** The steps still to come if every one of them succeeds (while unwinding: the remaining abort calls). */
export function remainingSteps(seq: ScriptSequence, c: Cursor): Step[] {
  const out: Step[] = [];
  for (let at = c, step = currentStep(seq, at); step !== undefined; step = currentStep(seq, at)) {
    out.push(step);
    at = advance(seq, at, 'ok');
  }
  return out;
}

/**
 * "Steps 1..N-1 ended with these results, and step N failed (or the process died during it)": what is
 * left to do. After a failure that is dpkg's own next move (a fallback, or the unwind); after a crash, the
 * unwind alone. Every remaining step is listed as if it succeeded.
 */
export function remainingAfter(seq: ScriptSequence, done: readonly StepResult[], how: 'failed' | 'crashed'): Step[] {
  const before = replay(seq, done);
  const next = how === 'failed' ? advance(seq, before, 'failed') : abandon(seq, before, true);
  return remainingSteps(seq, next);
}

// ---------------------------------------------------------------------------------------------------------

/** Moves onto frame `i`, applying `before` changes and passing over frames that need no action. */
function enter(seq: ScriptSequence, c: Cursor, i: number): Cursor {
  let at = c;
  for (; i < seq.frames.length; i++) {
    const f = seq.frames[i];
    if (f.kind === 'checkpoint') continue;
    if (f.kind === 'state') {
      at = applied(at, f.changes);
      continue;
    }
    return { ...applied(at, f.before), frame: i, phase: 'forward' };
  }
  return { ...at, frame: seq.frames.length, phase: 'done', outcome: 'succeeded' };
}

/** The unwind after frame `i` failed: the cleanups pushed since the newest checkpoint, newest first. */
function startUnwind(seq: ScriptSequence, c: Cursor, i: number, includeCurrent: boolean): Cursor {
  const pushed: number[] = [];
  for (let j = includeCurrent ? i : i - 1; j >= 0; j--) {
    const f = seq.frames[j];
    if (f.kind === 'checkpoint') break;
    if ((f.kind === 'script' && f.cleanup) || (f.kind === 'files' && f.undoable)) pushed.push(j);
  }
  return unwindNext(seq, { ...c, frame: i, phase: 'unwind', unwind: pushed });
}

/** Drops cleanups whose group already failed; done when none is left. */
function unwindNext(seq: ScriptSequence, c: Cursor): Cursor {
  const unwind = c.unwind.filter((j) => {
    const f = seq.frames[j];
    return f.kind !== 'script' || !c.failedGroups.includes(f.cleanup!.group);
  });
  if (unwind.length > 0) return { ...c, unwind };
  return { ...c, unwind: [], phase: 'done', outcome: 'failed' };
}

function after(f: Frame): readonly StateChange[] {
  return f.kind === 'script' || f.kind === 'files' ? f.after : [];
}

function applied(c: Cursor, changes: readonly StateChange[]): Cursor {
  if (changes.length === 0) return c;
  const states = { ...c.states };
  for (const ch of changes) {
    const was = states[ch.key] ?? internal(`no state for ${ch.key}`);
    states[ch.key] = { status: ch.status ?? was.status, reinstreq: ch.reinstreq ?? was.reinstreq };
  }
  return { ...c, states };
}

function made(seq: ScriptSequence, c: Cursor, call: CallSpec): ScriptCall {
  const self = c.states[call.key]?.status === 'not-installed' ? 0 : 1;
  return { ...call, refcount: (seq.otherInstances[call.key] ?? 0) + self };
}

function scriptFrame(seq: ScriptSequence, i: number): Extract<Frame, { kind: 'script' }> {
  const f = seq.frames[i];
  return f.kind === 'script' ? f : internal(`frame ${i} is not a script`);
}

function internal(message: string): never {
  throw new OvermergeError('E_INTERNAL', `script sequence: ${message}`, { op: 'walk scripts' });
}
