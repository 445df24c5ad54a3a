import { nativeArchOf } from '../../dpkg/arch';
import { formatProblem, planRelations, type InstalledPackage, type RelationsPlan, type TransactionItem } from '../../dpkg/relations';
import { OvermergeError } from '../../errors';
import type { Writer } from '../context';
import { installedFromDb, installedFromDpkg } from './input';
import type { RelationsOptions } from './options';

/**
 * The relations verdict on one request, before anything changes: dpkg's database (or overmerge's, on a
 * root without one) and the transaction's items go to the planner; every problem it finds refuses the
 * request with one E_RELATIONS error listing them all in dpkg's words, and what dpkg would only warn about
 * (a forced problem, a deconfiguration it considers) is told through `opts.warn`, each message once per
 * command however often it is planned (`told`).
 */
export function checkRelations(
  w: Writer,
  items: readonly TransactionItem[],
  opts: RelationsOptions,
  told: Set<string>,
  withFiles: ReadonlySet<string> = new Set(),
): RelationsPlan {
  const installed: InstalledPackage[] = w.dpkg ? installedFromDpkg(w.dpkg, withFiles) : installedFromDb(w.db, withFiles);
  const plan = planRelations({
    items,
    installed,
    nativeArch: w.dpkg?.nativeArch ?? nativeArchOf(),
    foreignArchs: w.dpkg?.foreignArchitectures ?? [],
    force: opts.force,
    autoDeconfigure: opts.autoDeconfigure,
    ignoreDepends: opts.ignoreDepends,
  });
  for (const message of plan.warnings) {
    if (told.has(message)) continue;
    told.add(message);
    opts.warn?.(message);
  }
  if (plan.problems.length > 0) throw refusal(plan);
  return plan;
}

/**
 * One error for every problem: a first line that stands alone, then each problem as dpkg words it (its
 * notice and its error line), and the forces that would turn them into warnings.
 */
export function refusal(plan: RelationsPlan): OvermergeError {
  const n = plan.problems.length;
  const forces = [...new Set(plan.problems.flatMap((p) => p.forcedBy ?? []))];
  const detail = plan.problems.flatMap((p) => formatProblem(p).trimEnd().split('\n'));
  return new OvermergeError('E_RELATIONS', `package relations refuse the transaction (${n} problem${n === 1 ? '' : 's'}); nothing was changed`, {
    op: 'check relations',
    detail,
    hint:
      forces.length > 0
        ? `install what is missing or remove what is in the way, or pass ${forces.join(' or ')} to go on as dpkg would`
        : 'install what is missing, or remove what is in the way',
  });
}
