import { OvermergeError } from '../../errors';
import type { RelationProblem, RelationsPlan } from './types';

/**
 * The verdict as one error: every problem the plan found, each as dpkg words it (its notice, then its
 * error line), so the user sees all that stands in the way at once, and nothing has been changed yet.
 * Undefined when the plan has no problem.
 */
export function relationsError(plan: RelationsPlan): OvermergeError | undefined {
  if (plan.problems.length === 0) return undefined;
  const n = plan.problems.length;
  const body = plan.problems.map(formatProblem).join('\n').trimEnd();
  const forces = [...new Set(plan.problems.flatMap((p) => p.forcedBy ?? []))];
  return new OvermergeError(
    'E_RELATIONS',
    `package relations refuse the transaction (${n} problem${n === 1 ? '' : 's'}); nothing was changed:\n${body}`,
    {
      op: 'check relations',
      hint:
        forces.length > 0
          ? `install what is missing, or remove what is in the way; dpkg would go on with ${forces.join(' or ')}`
          : 'install what is missing, or remove what is in the way',
    },
  );
}

/** One problem: dpkg's notice (its own lines, indented as dpkg indents them) and its error line. */
export function formatProblem(p: RelationProblem): string {
  if (p.detail === '') return `${p.pkg}: ${p.error}\n`;
  const detail = p.detail.endsWith('\n') ? p.detail : `${p.detail}\n`;
  return `${p.pkg}: ${detail} ${p.error}\n`;
}

/** Throws the verdict when the plan has problems; returns the plan otherwise. */
export function assertRelations(plan: RelationsPlan): RelationsPlan {
  const err = relationsError(plan);
  if (err) throw err;
  return plan;
}
