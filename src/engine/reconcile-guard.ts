import type { TxnRow } from '../db/types';
import { OvermergeError } from '../errors';
import { refuseIfInUse } from '../overlay/reconcile/mounted';

// Apart from reconcile.ts so that recovery, which every writer may run, does not load overlay reconcile's
// planner and gatherer (a dozen modules every command's start-up would pay for).

/**
 * Where a reconcile transaction can be recovered: on the upper layer folder it was run on (the journal
 * names paths there), while no overlay uses it. Run on the merged root of a mounted overlay — whose
 * database is the same file, seen through the overlay — recovery would change a layer under a live mount.
 */
export function guardRecovery(t: TxnRow, rootHost: string): void {
  if (t.kind !== 'reconcile') return;
  const i = t.args.indexOf('--upper');
  const upper = i >= 0 ? t.args[i + 1] : undefined;
  if (upper !== undefined && upper !== rootHost) {
    throw new OvermergeError('E_UNFINISHED', `transaction ${t.id} is an overlay reconcile of the upper layer ${upper}`, {
      op: 'recover',
      hint: `unmount the overlay and run \`overmerge recover --root ${upper}\``,
    });
  }
  refuseIfInUse(rootHost, 'upper layer', 'recover');
}
