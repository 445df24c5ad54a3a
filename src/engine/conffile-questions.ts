import type { HostPath } from '../fs/host-path';
import { hostPath, type Root, type RootPath } from '../fs/rootpath';
import type { ConffileAnswer, ConffileQuestion, Plan, PlanOptions } from './plan-model';

/** A question as the one who asks sees it: with the host paths of the current file and of the version offered. */
export interface AskedConffile extends ConffileQuestion {
  /** The conffile itself (dpkg's "realold", the root's path prefixed). */
  readonly currentHost: HostPath;
  /** The version offered: the staged file (install) or the `.dpkg-new` beside it (configure); unset if none. */
  readonly incomingHost: HostPath | undefined;
}

/**
 * Asks the questions a plan raised, in order, and answers each (by the conffile's path). Forced questions
 * come too: dpkg shows them (and writes their --status-fd line) with the answer the force gave.
 */
export type ConffileAsker = (questions: readonly AskedConffile[]) => Promise<ReadonlyMap<RootPath, ConffileAnswer>>;

/** The same, for the planners' questions (the transaction adds the host paths on the way to a ConffileAsker). */
export type PlanAsker = (questions: readonly ConffileQuestion[]) => Promise<ReadonlyMap<RootPath, ConffileAnswer>>;

export function askedFor(root: Root, q: ConffileQuestion): AskedConffile {
  const incomingHost = q.incoming.kind === 'staged' ? q.incoming.host : hostPath(root, q.incoming.path);
  return { ...q, currentHost: hostPath(root, q.path), incomingHost };
}

/**
 * Planning with questions: the plan is made, the questions it raised are asked (between two pure plannings,
 * never from inside one, nor from an executing step), and the plan is made again with the answers. The
 * answers are in the steps of the second plan, so the journal carries them as it carries any decision.
 */
export async function planAnswering(options: PlanOptions, ask: PlanAsker | undefined, make: (o: PlanOptions) => Plan): Promise<Plan> {
  const first = make(options);
  const questions = first.questions ?? [];
  if (ask === undefined || questions.length === 0) return first;
  const answers = await ask(questions);
  return make({ ...options, conffiles: { ...options.conffiles, answers } });
}
