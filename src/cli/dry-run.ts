import { stepCount } from '../engine/plan-steps';
import type { DryRunUpper, TxnOutcome } from '../engine/transaction';
import { upperSpaceLines } from '../engine/upper-room';
import type { Io } from './command';
import type { GlobalArgs } from './global';

/**
 * What a dry run prints: the package changes the plan makes, its step count, and the upper layer's
 * estimate on an overlay root (or that the root is none). Exit status 1 when the estimate does not fit:
 * the command itself would be refused.
 */
export function reportDryRun(outcome: TxnOutcome, upper: readonly DryRunUpper[], args: GlobalArgs, io: Io): number {
  const { plan } = outcome;
  const fits = upper.every((u) => u.kind !== 'overlay' || (u.report.need <= u.report.room && u.report.estimate.inodes <= u.report.free.inodesFree));
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ dryRun: true, changes: plan.changes, notices: plan.notices, steps: stepCount(plan.steps), upper: upper.map(upperJson), fits })}\n`);
    return fits ? 0 : 1;
  }
  for (const n of plan.notices) io.stderr.write(`overmerge: ${n}\n`);
  for (const c of plan.changes) {
    const v = c.action === 'install' || c.action === 'configure' ? c.newVersion : c.newVersion ? `${c.oldVersion} -> ${c.newVersion}` : c.oldVersion;
    io.stdout.write(`would ${c.action} ${c.name}:${c.architecture} ${v}\n`);
  }
  io.stdout.write(`dry run: ${stepCount(plan.steps)} filesystem steps planned, nothing changed\n`);
  for (const u of upper) {
    if (u.kind === 'overlay') for (const line of upperSpaceLines(u.report)) io.stdout.write(`${line}\n`);
    else if (u.kind === 'not-overlay') io.stdout.write('upper layer: not an overlay root (no upper-layer estimate)\n');
    else io.stdout.write(`upper layer: cannot be measured from here: ${u.why}\n`);
  }
  return fits ? 0 : 1;
}

function upperJson(u: DryRunUpper): unknown {
  if (u.kind !== 'overlay') return u;
  const { estimate, room, need, upper, free } = u.report;
  return {
    kind: 'overlay',
    upper,
    bytes: estimate.bytes,
    inodes: estimate.inodes,
    staging: estimate.staging,
    need,
    room,
    inodesFree: free.inodesFree,
    items: estimate.items,
  };
}
