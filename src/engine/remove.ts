import { OvermergeError } from '../errors';
import type { PackageRow } from '../db/types';
import type { Writer } from './context';
import { checkRelations } from './relations/check';
import { effectsOf, refKey } from './relations/effects';
import { STRICT_RELATIONS } from './relations/options';
import { removalFlows } from './script-flows';
import { labelOf } from '../model/events';
import { planChanges, runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/**
 * `remove`/`purge`: one transaction for all named packages. With dpkg's database, each package's prerm
 * runs before its files go (undone by postinst abort-remove if the transaction fails), and its postrm
 * after the commit, as dpkg runs it after its checkpoint.
 *
 * Relations are judged first, as dpkg's removal judges them: a package something installed still depends
 * on, or an Essential or Protected one, refuses the whole transaction unless forced; the packages go in
 * the order dpkg removes them (dependers before what they depend on).
 */
export async function removePackages(w: Writer, names: string[], purge: boolean, opts: TxnOptions): Promise<TxnOutcome> {
  const told = new Set<string>();
  return runTransaction(w, opts, {
    kind: purge ? 'purge' : 'remove',
    args: names,
    queue: { action: purge ? 'purge' : 'remove' },
    preview: async (probe, options) => {
      const rows = removalRows(w, names, purge, opts, told);
      return (await planChanges(probe, w.db, { installs: [], removals: rows.map((row) => ({ pkg: probe.withFiles(row), purge })) }, options)).plan;
    },
    plan: async (probe, _stagingDir, options, now) => {
      const rows = removalRows(w, names, purge, opts, told);
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

/**
 * The installed rows of the named packages, judged by the relations and in the order they go. Looked up
 * inside the transaction, after what dpkg did was taken in: a package dpkg installed can be removed.
 */
function removalRows(w: Writer, names: readonly string[], purge: boolean, opts: TxnOptions, told: Set<string>): PackageRow[] {
  const found = names.flatMap((n) => {
    const rows = w.db.packages.named(n);
    if (rows.length === 0 || (!purge && rows.every((r) => r.status === 'config-files'))) {
      throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: purge ? 'purge' : 'remove' });
    }
    return rows;
  });
  const action = purge ? 'purge' : 'remove';
  const plan = checkRelations(w, found.map((r) => ({ action, name: r.name, architecture: r.architecture })), opts.relations ?? STRICT_RELATIONS, told);
  return inRemovalOrder(found, effectsOf(plan).removeOrder);
}

/** The rows in the order the relations plan removes them; those it does not name (already gone) after. */
function inRemovalOrder(rows: readonly PackageRow[], order: ReadonlyArray<{ name: string; architecture: string }>): PackageRow[] {
  const rank = new Map(order.map((r, i) => [refKey(r), i]));
  const at = (r: PackageRow): number => rank.get(refKey(r)) ?? Number.MAX_SAFE_INTEGER;
  return rows.map((r, i) => ({ r, i })).sort((a, b) => at(a.r) - at(b.r) || a.i - b.i).map((x) => x.r);
}
