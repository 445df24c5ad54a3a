import { kindAt, makeDirectory, rmdirIfPresent } from '../../fs/entries';
import { backupState, moveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { hostPath, type RootPath } from '../../fs/rootpath';
import type { EntryMeta } from '../../model/entry';
import { backupFor, letGoOfBackup, type Aside } from './aside';
import { hostDirOf, type HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/** A directory the package ships where the root has none (or has a non-directory, moved aside first). */
export interface MkdirStep {
  kind: 'mkdir';
  path: RootPath;
  meta: EntryMeta;
  aside: Aside;
}

export interface MkdirPayload {
  target: HostPath;
  meta: EntryMeta;
  backup?: BackupHandle;
}

export const mkdirStep: StepKind<'mkdir', MkdirStep, MkdirPayload> = {
  kind: 'mkdir',
  syncsItself: true,
  finishAlongside: true,
  concretize(s, { root }) {
    const target = hostPath(root, s.path);
    return { target, meta: s.meta, backup: backupFor(target, s.aside) };
  },
  async run(p, { hooks, sync, asRoot }) {
    if (p.backup) await moveAside(p.backup, { hooks, sync });
    await makeDirectory(p.target, p.meta, asRoot);
    // Its entry, and the folder itself with the owner and mode just given (a small transaction is made
    // durable by this batch alone: transaction.ts).
    sync.addDir(hostDirOf(p.target));
    sync.addDir(p.target);
  },
  async undo(p, { hooks, sync }) {
    // The new directory is at the target only if nothing (else) is there any more: no backup at all, or
    // a move-aside that completed. Its children were undone before it (the journal is undone newest first).
    const moved = p.backup === undefined || (await backupState(p.backup)) === 'aside';
    if (moved && (await kindAt(p.target)) === 'dir') await rmdirIfPresent(p.target);
    if (p.backup) await restoreBackup(p.backup, { hooks, sync });
  },
  keptNothing: (p) => p.backup === undefined,
  finish: (p, ctx) => letGoOfBackup(p.backup, ctx),
};
