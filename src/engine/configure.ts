import { OvermergeError } from '../errors';
import type { PackageRow } from '../db/types';
import type { Writer } from './context';
import { configureCompanions, planConfigure } from './configure-plan';
import { planAnswering } from './conffile-questions';
import { runTransaction, type TxnOptions, type TxnOutcome } from './transaction';

/** The states configure finishes, as dpkg's `--configure` takes them. */
const CONFIGURABLE = new Set(['unpacked', 'half-configured']);

/**
 * Which packages `configure` acts on: the named ones (each must be unpacked or half-configured; an
 * installed one is refused as dpkg refuses it), or with `pending` every package waiting to be configured.
 */
export function packagesToConfigure(w: Writer, names: readonly string[], pending: boolean): PackageRow[] {
  if (pending) return w.db.packages.list().filter((p) => CONFIGURABLE.has(p.status));
  return names.flatMap((n) => {
    const rows = w.db.packages.named(n);
    if (rows.length === 0) throw new OvermergeError('E_NOT_INSTALLED', `package '${n}' is not installed`, { op: 'configure' });
    const waiting = rows.filter((p) => CONFIGURABLE.has(p.status));
    if (waiting.length === 0) {
      throw new OvermergeError('E_STATE', `package ${n} is ${rows[0].status}, not unpacked: it cannot be configured`, {
        op: 'configure',
        hint: 'only unpacked or half-configured packages are configured',
      });
    }
    return waiting;
  });
}

/**
 * `configure`: one transaction that puts the conffiles unpack left as `.dpkg-new` in place by dpkg's
 * rules and records the packages as installed. Nothing to configure is not an error (`--pending` on a
 * root where everything is installed).
 */
export async function configurePackages(w: Writer, select: () => PackageRow[], args: string[], opts: TxnOptions, pending = false): Promise<TxnOutcome> {
  return runTransaction(w, opts, {
    kind: 'configure',
    args,
    // The postinst of each, in dpkg's order, after the commit; with --pending, whatever dpkg would take.
    queue: { action: 'configure', pending },
    plan: async (probe, _stagingDir, options, now) => {
      // Chosen here, after the transaction has taken in what dpkg changed since overmerge last looked (a
      // package real dpkg unpacked is configurable on overmerge's first call).
      const rows = select();
      const packages = rows.map((row) => probe.withFiles(row));
      for (const p of packages) {
        for (const f of p.files) {
          if (!f.conffile) continue;
          await probe.look(f.path, { digest: true });
          for (const c of configureCompanions(f.path)) await probe.look(c, { digest: true });
        }
      }
      for (const p of [...probe.disk.keys()]) await probe.lookAncestors(p); // checkGuarded
      const configureOrder = pending ? [] : rows.map((r) => ({ name: r.name, architecture: r.architecture }));
      const plan = await planAnswering(options, now.ask, (o) => planConfigure({ packages, disk: probe.disk, options: o }));
      // With dpkg's database the configure queue after the commit runs each postinst and records the
      // package installed; the commit leaves it in the state it is in.
      if (w.dpkg) for (const [i, rec] of plan.records.entries()) rec.status = rows[i].status;
      return { plan, configureOrder };
    },
  });
}
