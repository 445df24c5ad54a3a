import type { TxnOutcome } from '../engine/transaction';
import type { Io } from './command';
import type { GlobalArgs } from './global';

/** What a changing command prints: one line per package change and any notices; JSON with --json. */
export function reportOutcome(outcome: TxnOutcome, args: GlobalArgs, io: Io): void {
  const { plan, txnId } = outcome;
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ transaction: txnId, changes: plan.changes, notices: plan.notices, steps: plan.steps.length })}\n`);
    return;
  }
  for (const n of plan.notices) io.stderr.write(`overmerge: ${n}\n`);
  if (args.quiet) return;
  for (const c of plan.changes) {
    const v = c.action === 'install' || c.action === 'configure' ? c.newVersion : c.newVersion ? `${c.oldVersion} -> ${c.newVersion}` : c.oldVersion;
    io.stdout.write(`${c.action} ${c.name}:${c.architecture} ${v}\n`);
  }
  io.stdout.write(`transaction ${txnId}: ${plan.steps.length} filesystem steps\n`);
}
