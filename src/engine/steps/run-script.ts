import { OvermergeError } from '../../errors';
import { runInSession, type ScriptSession, type ScriptTarget } from '../script-session';
import type { StepKind } from './step-kind';

/**
 * One maintainer script call of dpkg's protocol (src/dpkg/script-protocol.ts), journaled before it runs:
 * scripts cannot be undone, so the step's undo is the abort call dpkg would make instead (postrm
 * abort-install for a preinst install, postinst abort-upgrade for a prerm upgrade, ...). The journal is
 * undone newest first, which is exactly dpkg's unwind order: each abort call was pushed before its script
 * ran, so a script that fails is unwound too, and the files placed between two scripts are put back
 * between their abort calls.
 *
 * - A failing call with a fallback (the new package's script, dpkg's "trying script from the new package
 *   instead") runs the fallback; only if that fails too does the step fail.
 * - A missing script is a success, except a fallback that must exist (CallSpec.ifAbsent).
 * - Once an abort call of a package fails, its package makes no further abort call in this unwind.
 */
export interface RunScriptStep {
  kind: 'run-script';
  target: ScriptTarget;
  fallback?: ScriptTarget;
  cleanup?: ScriptTarget & { group: string };
}

export type RunScriptPayload = Omit<RunScriptStep, 'kind'>;

export const runScriptStep: StepKind<'run-script', RunScriptStep, RunScriptPayload> = {
  kind: 'run-script',
  alone: true,
  // A script that ran may have written anywhere in the root, so it asks the batch for a syncfs of the
  // root's filesystem; an absent one (most calls: most packages have few scripts) wrote nothing.
  syncsItself: true,
  concretize: ({ target, fallback, cleanup }) => ({ target, fallback, cleanup }),
  async run(p, { scripts, sync, root }) {
    const s = need(scripts);
    const first = await runInSession(s, p.target);
    if (mayHaveWritten(first)) sync.addFilesystem(root.host);
    if (first.status !== 'failed' && !(first.status === 'absent' && p.target.call.ifAbsent === 'fail')) return;
    if (p.fallback === undefined) throw failure(first, p.target);
    if (first.status === 'failed') s.notice(`${first.error.message}; trying the script from the new package instead`);
    const second = await runInSession(s, p.fallback);
    if (mayHaveWritten(second)) sync.addFilesystem(root.host);
    if (second.status === 'failed' || (second.status === 'absent' && p.fallback.call.ifAbsent === 'fail')) throw failure(second, p.fallback);
  },
  async undo(p, { scripts }) {
    if (p.cleanup === undefined) return;
    const s = need(scripts);
    const group = `${p.cleanup.call.key} ${p.cleanup.group}`;
    if (p.cleanup.group !== 'always' && s.failedGroups.has(group)) return;
    const run = await runInSession(s, p.cleanup);
    if (run.status === 'failed') {
      // dpkg goes on unwinding the rest (files, other packages) and leaves this package as it is.
      s.failedGroups.add(group);
      s.notice(`${run.error.message}; ${p.cleanup.call.package} is left half-installed, as dpkg leaves it`);
    }
  },
  keptNothing: () => true,
  async finish() {},
};

/** Whether a script was started (and so may have changed files): not when absent, or not run (--no-scripts). */
function mayHaveWritten(run: Awaited<ReturnType<typeof runInSession>>): boolean {
  return run.status !== 'absent' && run.status !== 'skipped';
}

function failure(run: Awaited<ReturnType<typeof runInSession>>, t: ScriptTarget): OvermergeError {
  if (run.status === 'failed') return run.error;
  return new OvermergeError('E_SCRIPT_FAILED', `there is no ${t.call.script} script in the new version of ${t.call.package} - giving up`, {
    op: 'run script',
  });
}

function need(scripts: ScriptSession | undefined): ScriptSession {
  if (scripts) return scripts;
  throw new OvermergeError('E_INTERNAL', 'a maintainer script step without a script session', { op: 'run script' });
}
