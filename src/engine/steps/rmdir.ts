import { rmdirIfEmpty } from '../../fs/entries';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { hostDirOf, type HostPath } from '../../fs/host-path';
import { durableDir } from '../../fs/sync';
import type { StepKind } from './step-kind';

/**
 * A directory that goes once it is empty. Nothing happens before the commit: the backups of its children
 * live in it until they are let go of, so it is removed at finish (and kept if something new is in it,
 * as dpkg keeps a directory that is not empty). Its parent's entry is made durable with the backups' before
 * the journal is forgotten: otherwise a power cut after that could bring the emptied directory back with
 * nothing left to say it should go.
 */
export interface RmdirStep {
  kind: 'rmdir';
  path: RootPath;
}

export interface RmdirPayload {
  target: HostPath;
}

export const rmdirStep: StepKind<'rmdir', RmdirStep, RmdirPayload> = {
  kind: 'rmdir',
  syncsItself: true,
  concretize: (s, { root }) => ({ target: hostPath(root, s.path) }),
  async run() {},
  async undo() {},
  async finish(p, { sync }) {
    // A finish done again by `recover` may find the parent gone too (its own rmdir ran): nothing to sync.
    if ((await rmdirIfEmpty(p.target)) === 'parent-gone') return;
    await durableDir(sync, hostDirOf(p.target));
  },
};
