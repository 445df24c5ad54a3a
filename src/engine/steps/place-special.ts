import { createSpecial, kindAt, renameOver, unlinkIfPresent, type SpecialEntry } from '../../fs/entries';
import { moveAside, restoreBackup, type BackupHandle } from '../../fs/move-aside';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { newTempId, tempSibling } from '../../fs/tempname';
import type { ManifestEntry } from '../../model/entry';
import { backupFor, letGoOfBackup, placedAlone, type Aside } from './aside';
import { hostDirOf, type HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/**
 * A symlink, hard link, fifo or device node: made under a temporary name beside its path, then renamed
 * over it, so the path is the old entry or the whole new one at every instant.
 */
export interface PlaceSpecialStep {
  kind: 'place-special';
  path: RootPath;
  entry: ManifestEntry;
  aside: Aside;
  /** For a hard link: where its target lands (the root's directory symlinks followed). */
  linkTo?: RootPath;
}

export interface PlaceSpecialPayload {
  target: HostPath;
  temp: HostPath;
  entry: SpecialEntry;
  backup?: BackupHandle;
}

export const placeSpecialStep: StepKind<'place-special', PlaceSpecialStep, PlaceSpecialPayload> = {
  kind: 'place-special',
  syncsItself: true,
  finishAlongside: true,
  concretize(s, { root }) {
    const target = hostPath(root, s.path);
    const e = s.entry;
    const entry: SpecialEntry = {
      type: e.type as SpecialEntry['type'],
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      mtime: e.mtime,
      target: e.target,
      devmajor: e.devmajor,
      devminor: e.devminor,
      linkFrom: s.linkTo === undefined ? undefined : hostPath(root, s.linkTo),
    };
    return { target, temp: tempSibling(target, 'new', newTempId()), entry, backup: backupFor(target, s.aside) };
  },
  async run(p, { hooks, sync, asRoot }) {
    if (p.backup) await moveAside(p.backup, { hooks, sync });
    await createSpecial(p.temp, p.entry, asRoot);
    hooks.step?.('special:created', { path: p.temp });
    await renameOver(p.temp, p.target);
    sync.addDir(hostDirOf(p.target));
  },
  async undo(p, { hooks, sync }) {
    await unlinkIfPresent(p.temp);
    if ((await placedAlone(p.backup)) && (await kindAt(p.target)) === 'other') await unlinkIfPresent(p.target);
    if (p.backup) await restoreBackup(p.backup, { hooks, sync });
  },
  keptNothing: (p) => p.backup === undefined,
  finish: (p, ctx) => letGoOfBackup(p.backup, ctx),
};
