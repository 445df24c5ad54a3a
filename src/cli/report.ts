import { printable } from '../control/printable';
import { stepCount } from '../engine/plan-steps';
import type { TxnOutcome } from '../engine/transaction';
import type { Io } from './command';
import { reportDryRun } from './dry-run';
import type { GlobalArgs } from './global';

/**
 * What a changing command prints: one line per package change and any notices; JSON with --json. The
 * exit status: 1 when something failed after the commit (a postinst, a postrm), the packages left as dpkg
 * leaves them; else 0.
 */
export function reportOutcome(outcome: TxnOutcome, args: GlobalArgs, io: Io): number {
  const { plan, txnId, failures } = outcome;
  if (outcome.dryRun) return reportDryRun(outcome, outcome.dryRun, args, io);
  for (const f of failures) io.stderr.write(`overmerge: ${printable(f)}\n`);
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ transaction: txnId, changes: plan.changes, notices: plan.notices, steps: stepCount(plan.steps), failures })}\n`);
    return failures.length > 0 ? 1 : 0;
  }
  for (const n of plan.notices) io.stderr.write(`overmerge: ${n}\n`);
  if (args.quiet) return failures.length > 0 ? 1 : 0;
  for (const c of plan.changes) {
    const v = c.action === 'install' || c.action === 'configure' ? c.newVersion : c.newVersion ? `${c.oldVersion} -> ${c.newVersion}` : c.oldVersion;
    io.stdout.write(`${c.action} ${c.name}:${c.architecture} ${v}\n`);
  }
  io.stdout.write(`transaction ${txnId}: ${stepCount(plan.steps)} filesystem steps\n`);
  return failures.length > 0 ? 1 : 0;
}
