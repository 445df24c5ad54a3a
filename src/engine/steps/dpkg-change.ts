import { Paragraph } from '../../control/paragraph';
import type { DbChange, DpkgDb, InfoOwner, Reversal, StatusTriple } from '../../dpkg/dpkg-db';
import { reversalOf } from '../../dpkg/changes';
import { OvermergeError } from '../../errors';
import type { StepKind } from './step-kind';

/**
 * One change to dpkg's database (a package's stanza, its info files, its file list), made as dpkg makes
 * it — an update entry, files renamed into info/ — so dpkg, dpkg-query and apt see each state change as
 * it happens. The planned step says what is wanted; concretize asks dpkg's database for the change, with
 * the before and after of everything it touches, and that is what the journal holds: undo writes the
 * before back (src/dpkg/dpkg-db.ts apply/revert, both idempotent).
 */
export type DpkgIntent =
  | { op: 'status'; name: string; arch: string; status: StatusTriple; configVersion?: string | null }
  /**
   * A whole stanza. `selected`: the package was not known to dpkg before; undo leaves it not-installed
   * with the selection kept (`install ok not-installed`), as dpkg does after a failed first install.
   */
  | { op: 'package'; fields: ReadonlyArray<readonly [string, string]>; selected?: boolean }
  | { op: 'info'; owner: InfoOwner; files: Readonly<Record<string, { data: Buffer; mode?: number }>> }
  | { op: 'list'; owner: InfoOwner; paths: readonly string[] }
  | { op: 'remove-info'; owner: InfoOwner; keep: readonly string[] }
  | { op: 'forget'; name: string; arch: string }
  /**
   * A package's trigger bookkeeping: Triggers-Pending and Triggers-Awaited (in dpkg's in-memory order),
   * and its state when triggers moved it (triggers-pending, triggers-awaited, installed); want and flag kept.
   */
  | { op: 'trigger-fields'; name: string; arch: string; state?: StatusTriple['state']; pending: readonly string[]; awaited: readonly string[] }
  /** triggers/ files (File, Unincorp, interest files) replaced, or deleted (null). */
  | { op: 'trigger-files'; files: Readonly<Record<string, string | null>> };

export interface DpkgChangeStep {
  kind: 'dpkg-change';
  intent: DpkgIntent;
  /** The package it concerns (as dpkg's protocol keys it), when it is a state change of one. */
  pkg?: string;
}

export interface DpkgChangePayload {
  change: DbChange;
  pkg?: string;
}

/** What the journal keeps of a change: its undo's half. */
export interface DpkgChangeKept {
  change: Reversal;
  pkg?: string;
}

export const dpkgChangeStep: StepKind<'dpkg-change', DpkgChangeStep, DpkgChangePayload, DpkgChangeKept> = {
  kind: 'dpkg-change',
  syncsItself: true,
  concretize(s, { dpkg }) {
    return { change: planDpkgIntent(need(dpkg), s.intent), pkg: s.pkg };
  },
  // The change is applied from memory; recovery only ever reverts it (a committed transaction's dpkg
  // changes are all durable before its commit record), so the journal needs no `after`.
  journaled: (p) => ({ change: reversalOf(p.change), pkg: p.pkg }),
  keptNothing: () => true,
  async run(p, { dpkg, sync }) {
    // Its fsyncs join the transaction's sync before the commit record (a syncfs in a large transaction):
    // scripts and dpkg-query see each change at once, and the journal reverts it after a crash before the
    // commit. dpkg makes each change durable on its own (two fsyncs an update entry, one a control file).
    need(dpkg).apply(p.change, sync);
  },
  async undo(p, { dpkg, scripts, sync }) {
    // An abort call of this package failed in this unwind: dpkg leaves its state as the failure left it.
    if (p.pkg !== undefined && scripts?.failedGroups.has(`${p.pkg} package`)) return;
    need(dpkg).revert(p.change, sync);
  },
  async finish() {
    // Nothing kept for undo but the journal record itself.
  },
};

/** The change `i` asks of dpkg's database as it is now (with before and after, for undo). */
export function planDpkgIntent(dpkg: DpkgDb, i: DpkgIntent): DbChange {
  switch (i.op) {
    case 'status':
      return dpkg.planStatus({ name: i.name, arch: i.arch }, i.status, i.configVersion === undefined ? {} : { configVersion: i.configVersion });
    case 'package': {
      const change = dpkg.planPackage(new Paragraph(i.fields.map(([k, v]) => [k, v])));
      if (!i.selected || change.kind !== 'package' || change.before !== null) return change;
      const name = i.fields.find(([k]) => k === 'Package')?.[1] ?? '';
      const arch = i.fields.find(([k]) => k === 'Architecture')?.[1] ?? '';
      const left = dpkg.planPackage(new Paragraph([['Package', name], ['Status', 'install ok not-installed'], ['Architecture', arch]]));
      return left.kind === 'package' ? { ...change, before: left.after } : change;
    }
    case 'info':
      return dpkg.planInfoFiles(i.owner, i.files);
    case 'list':
      return dpkg.planFileList(i.owner, i.paths);
    case 'remove-info':
      return dpkg.planRemoveInfoFiles(i.owner, i.keep);
    case 'forget':
      return dpkg.planForget({ name: i.name, arch: i.arch });
    case 'trigger-fields': {
      const now = dpkg.get(i.name, i.arch);
      if (now === undefined) throw new OvermergeError('E_STATE', `package ${i.name}:${i.arch} is not in dpkg's database`, { op: 'record triggers' });
      const status = { ...now.status, state: i.state ?? now.status.state };
      return dpkg.planStatus({ name: i.name, arch: i.arch }, status, { triggersPending: i.pending, triggersAwaited: i.awaited });
    }
    case 'trigger-files':
      return dpkg.planTriggerFiles(i.files);
  }
}

function need(dpkg: DpkgDb | undefined): DpkgDb {
  if (dpkg) return dpkg;
  // A journal with dpkg changes, replayed where dpkg's database is not found (--admindir forgotten?).
  throw new OvermergeError('E_UNFINISHED', "this transaction changed dpkg's database, which is not open now", {
    op: 'dpkg database',
    hint: 'run the command with the --admindir the transaction used',
  });
}
