import { moveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { place, planPlace, undoPlace, type PlacePlan } from '../../fs/place';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { backupFor, letGoOfBackup, placedAlone, type Aside } from './aside';
import type { StepKind } from './step-kind';

/**
 * An entry of the root renamed to another path of the same folder — configure putting a conffile's
 * `.dpkg-new` in place, or beside it as `.dpkg-dist` — over a backup of whatever is there. Undo renames it
 * back. It is a placement whose staged content is the root's own entry, so it goes through movefile's
 * place (always by rename, whatever the placement mode).
 */
export interface RenameStep {
  kind: 'rename';
  from: RootPath;
  path: RootPath;
  aside: Aside;
}

export interface RenamePayload {
  plan: PlacePlan;
  backup?: BackupHandle;
}

export const renameStep: StepKind<'rename', RenameStep, RenamePayload> = {
  kind: 'rename',
  syncsItself: true,
  concretize(s, { root }) {
    const target = hostPath(root, s.path);
    return { plan: planPlace(hostPath(root, s.from), target, 'rename'), backup: backupFor(target, s.aside) };
  },
  async run(p, { hooks, sync, crossDevice }) {
    if (p.backup) await moveAside(p.backup, { hooks, sync });
    await place(p.plan, { hooks, sync, crossDevice });
  },
  async undo(p, { hooks, sync }) {
    await undoPlace(p.plan, { hooks, removeTarget: await placedAlone(p.backup), sync });
    if (p.backup) await restoreBackup(p.backup, { hooks, sync });
  },
  keptNothing: (p) => p.backup === undefined,
  finish: (p, ctx) => letGoOfBackup(p.backup, ctx),
};
