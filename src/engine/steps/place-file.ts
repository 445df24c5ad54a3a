import { moveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { placeFile, planPlace, undoPlace, type PlacePlan } from '../../fs/place';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { stagedContent, type ManifestEntry } from '../../model/entry';
import { OvermergeError } from '../../errors';
import { backupFor, letGoOfBackup, placedAlone, type Aside } from './aside';
import type { HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/** A regular file put at its path from the staging area (rename, copy or hard link: the placement mode). */
export interface PlaceFileStep {
  kind: 'place-file';
  path: RootPath;
  entry: ManifestEntry;
  aside: Aside;
}

export interface PlaceFilePayload {
  target: HostPath;
  plan: PlacePlan;
  backup?: BackupHandle;
}

export const placeFileStep: StepKind<'place-file', PlaceFileStep, PlaceFilePayload> = {
  kind: 'place-file',
  syncsItself: true,
  finishAlongside: true,
  concretize(s, { root, mode }) {
    const target = hostPath(root, s.path);
    const staged = stagedContent(s.entry);
    if (staged === undefined) {
      // The planner never plans a placement without content; a bug if it does.
      throw new OvermergeError('E_INTERNAL', `no staged content to place at ${target}`, { op: 'plan', path: target });
    }
    return { target, plan: planPlace(staged, target, mode), backup: backupFor(target, s.aside) };
  },
  async run(p, { hooks, sync, crossDevice }) {
    if (p.backup) await moveAside(p.backup, { hooks, sync });
    // A completed placement renames its temporary over the target, so finish has no temporary to look for.
    await placeFile(p.plan, { hooks, sync, crossDevice });
  },
  async undo(p, { hooks, sync }) {
    await undoPlace(p.plan, { hooks, removeTarget: await placedAlone(p.backup), sync });
    if (p.backup) await restoreBackup(p.backup, { hooks, sync });
  },
  keptNothing: (p) => p.backup === undefined,
  finish: (p, ctx) => letGoOfBackup(p.backup, ctx),
};
