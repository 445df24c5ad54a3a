import type { Writer } from './context';
import { planConfigure } from './configure-plan';
import { runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * dpkg's `--triggers-only`: the pending triggers of the named packages (or, with `pending`, of every
 * package that has some) processed, nothing unpacked or configured. A transaction that changes no file;
 * its configure queue runs the postinst `triggered` calls after the commit, as for any other action.
 */
export function processTriggersOnly(w: Writer, names: readonly string[], pending: boolean, opts: TxnOptions): Promise<TxnOutcome> {
  return runTransaction(w, opts, {
    kind: 'configure',
    args: pending ? ['--triggers-only', '--pending'] : ['--triggers-only', ...names],
    queue: { action: 'triggers-only', pending, named: pending ? [] : names },
    plan: async (_probe, _stagingDir, options) => ({ plan: planConfigure({ packages: [], disk: new Map(), options }) }),
  });
}
