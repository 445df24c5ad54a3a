import { OvermergeError } from '../errors';
import type { Writer } from './context';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/** `remove`/`purge`: one transaction for all named packages. */
export async function removePackages(w: Writer, names: string[], purge: boolean, opts: TxnOptions): Promise<TxnOutcome> {
  const rows = names.map((n) => {
    const found = w.db.packages.byName(n);
    if (found.length === 0 || (!purge && found.every((r) => r.status === 'config-files'))) {
      throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: purge ? 'purge' : 'remove' });
    }
    return found;
  });
  return runTransaction(w, opts, {
    kind: purge ? 'purge' : 'remove',
    args: names,
    plan: (probe, _stagingDir, options) =>
      planChanges(probe, w.db, { installs: [], removals: rows.flat().map((row) => ({ pkg: probe.withFiles(row), purge })) }, options),
  });
}
