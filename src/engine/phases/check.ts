import { OvermergeError } from '../../errors';
import type { PlaceMode } from '../../fs/place';
import { displayPath, type RootPath } from '../../fs/rootpath';
import type { DiskState } from '../../model/disk';
import { checkGuarded } from '../guarded';
import { checkLanding } from '../landing';
import type { Plan, PlanInput } from '../plan-model';
import { stepsOf } from '../plan-steps';
import { checkSpace } from '../space';

/**
 * The check phase: every refusal that must come before anything in the root changes, in one place.
 * Before planning, where the members land (checkLanding: nothing through a symlink another member
 * places, nothing in overmerge's own folder, every folder there); after planning, who else could
 * redirect a step (checkGuarded), room for what the plan writes (checkSpace), and content for every
 * file it places (checkContent).
 */
export function checkInput(input: PlanInput): void {
  checkLanding(input);
}

export interface PlanCheckContext {
  rootHost: string;
  stagingDir: string;
  mode: PlaceMode;
}

export async function checkPlan(plan: Plan, disk: ReadonlyMap<RootPath, DiskState>, ctx: PlanCheckContext): Promise<void> {
  checkGuarded(stepsOf(plan.steps), disk, { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 });
  await checkSpace(ctx.rootHost, ctx.stagingDir, ctx.mode, plan);
  checkContent(plan);
}

/** Refuses a plan that would place a file whose content is not at hand (a rollback that kept none). */
export function checkContent(plan: Plan): void {
  // A run's entries never claim what the root holds (plan.ts makes runs of fresh files only).
  for (const s of plan.steps) {
    if (s.kind === 'place-file' && s.entry.claimsExisting) {
      throw new OvermergeError('E_CANNOT_ROLLBACK', `no content kept for ${displayPath(s.path)}; it cannot be restored`, {
        op: 'plan',
        path: displayPath(s.path),
      });
    }
  }
}
