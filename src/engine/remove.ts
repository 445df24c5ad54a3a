import { OvermergeError } from '../errors';
import type { Writer } from './context';
import { removalFlows } from './script-flows';
import { labelOf } from '../model/events';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * `remove`/`purge`: one transaction for all named packages. With dpkg's database, each package's prerm
 * runs before its files go (undone by postinst abort-remove if the transaction fails), and its postrm
 * after the commit, as dpkg runs it after its checkpoint.
 */
export async function removePackages(w: Writer, names: string[], purge: boolean, opts: TxnOptions): Promise<TxnOutcome> {
  return runTransaction(w, opts, {
    kind: purge ? 'purge' : 'remove',
    args: names,
    queue: { action: purge ? 'purge' : 'remove' },
    plan: async (probe, _stagingDir, options, now) => {
      // Looked up here, after what dpkg did was taken in: a package dpkg installed can be removed.
      const rows = names.flatMap((n) => {
        const found = w.db.packages.byName(n);
        if (found.length === 0 || (!purge && found.every((r) => r.status === 'config-files'))) {
          throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: purge ? 'purge' : 'remove' });
        }
        return found;
      });
      const removals = rows.map((row) => ({ pkg: probe.withFiles(row), purge }));
      if (w.dpkg === undefined || now.scripts === undefined) return planChanges(probe, w.db, { installs: [], removals }, options);
      const dpkg = w.dpkg;
      const flows = removalFlows(dpkg, now.scripts, removals);
      for (const r of removals) {
        const was = dpkg.get(r.pkg.name, r.pkg.architecture);
        if (was === undefined) continue;
        // dpkg names the removal, then (for a purge of what was installed) the purge after it.
        const action = purge && was.status.state === 'config-files' ? 'purge' : 'remove';
        opts.events?.({ kind: 'processing', action, pkg: labelOf(was.displayName, was.name, was.arch), installedVersion: was.version ?? '<none>', availableVersion: '<none>' });
      }
      await now.run(flows.flatMap((f) => f.pre));
      probe.forget();
      const planned = await planChanges(probe, w.db, { installs: [], removals: rows.map((row) => ({ pkg: probe.withFiles(row), purge })) }, options);
      return { ...planned, scripts: flows };
    },
  });
}
