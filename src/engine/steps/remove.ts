import { moveAside, planMoveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { letGoOfBackup } from './aside';
import type { HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/** A non-directory that goes: moved aside (so undo can put it back), let go of after the commit. */
export interface RemoveStep {
  kind: 'remove';
  path: RootPath;
}

export interface RemovePayload {
  target: HostPath;
  backup: BackupHandle;
}

export const removeStep: StepKind<'remove', RemoveStep, RemovePayload> = {
  kind: 'remove',
  syncsItself: true,
  finishAlongside: true,
  concretize(s, { root }) {
    const target = hostPath(root, s.path);
    return { target, backup: planMoveAside(target) };
  },
  async run(p, { hooks, sync }) {
    await moveAside(p.backup, { hooks, sync });
  },
  async undo(p, { hooks, sync }) {
    await restoreBackup(p.backup, { hooks, sync });
  },
  keptNothing: (p) => p.backup === undefined,
  finish: (p, ctx) => letGoOfBackup(p.backup, ctx),
};
