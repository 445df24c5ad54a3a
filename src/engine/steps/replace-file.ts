import { discardBackup, moveAside, planMoveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { renameOver, unlinkIfPresent } from '../../fs/entries';
import { hostDirOf, type HostPath } from '../../fs/host-path';
import { writeNewFile } from '../../fs/new-file';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { newTempId, tempSibling } from '../../fs/tempname';
import type { StepKind } from './step-kind';

/**
 * A file of the root replaced by content the plan holds (overlay reconcile rewriting dpkg's status in the
 * upper layer): the old file kept by a hard link beside it, the new content written whole under a
 * temporary name, synced, and renamed over it, so the path holds the old or the new file at every
 * instant. The content is in the journal, so undo and recovery need nothing else. Mode, owner and mtime
 * are the old file's, as dpkg keeps them when it rewrites status.
 */
export interface ReplaceFileStep {
  kind: 'replace-file';
  path: RootPath;
  /** The new content, base64. */
  content: string;
}

export interface ReplaceFilePayload {
  target: HostPath;
  temp: HostPath;
  content: string;
  backup: BackupHandle;
}

export const replaceFileStep: StepKind<'replace-file', ReplaceFileStep, ReplaceFilePayload> = {
  kind: 'replace-file',
  concretize(s, { root }) {
    const target = hostPath(root, s.path);
    return { target, temp: tempSibling(target, 'new', newTempId()), content: s.content, backup: planMoveAside(target, { keepOriginal: true }) };
  },
  async run(p, { hooks, sync, asRoot }) {
    await moveAside(p.backup, { hooks, sync });
    await hooks.step?.('replace:write', { path: p.temp });
    await writeNewFile(p.temp, Buffer.from(p.content, 'base64'), p.target, asRoot);
    await hooks.step?.('replace:rename', { path: p.target });
    await renameOver(p.temp, p.target);
    sync.addDir(hostDirOf(p.target));
  },
  async undo(p, { hooks, sync }) {
    await unlinkIfPresent(p.temp);
    await restoreBackup(p.backup, { hooks, sync });
  },
  async finish(p, { hooks, sync }) {
    await discardBackup(p.backup, { hooks, sync });
  },
};
