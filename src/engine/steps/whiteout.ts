import { createWhiteout, isWhiteout, unlinkIfPresent } from '../../fs/entries';
import { hostDirOf, type HostPath } from '../../fs/host-path';
import { hostPath, type RootPath } from '../../fs/rootpath';
import type { StepKind } from './step-kind';

/**
 * An overlayfs whiteout made in an upper layer folder while no overlay is mounted on it (overlay
 * reconcile: a file of the image that a kept package's version does not have). The path holds nothing
 * before (the plan makes one only there), so the device node is made at the path itself: mknod either
 * made it or did not, and undo removes it only if what is there is a whiteout.
 */
export interface WhiteoutStep {
  kind: 'whiteout';
  path: RootPath;
  /** Its mtime, seconds: the plan gives the hidden entry's, so that the layer a run makes is always the same. */
  mtime: number;
}

export interface WhiteoutPayload {
  target: HostPath;
  mtime: number;
}

export const whiteoutStep: StepKind<'whiteout', WhiteoutStep, WhiteoutPayload> = {
  kind: 'whiteout',
  concretize: (s, { root }) => ({ target: hostPath(root, s.path), mtime: s.mtime }),
  async run(p, { hooks, sync }) {
    await hooks.step?.('whiteout:create', { path: p.target });
    await createWhiteout(p.target, p.mtime);
    sync.addDir(hostDirOf(p.target));
  },
  async undo(p, { hooks, sync }) {
    if (!(await isWhiteout(p.target))) return;
    await hooks.step?.('whiteout:remove', { path: p.target });
    await unlinkIfPresent(p.target);
    sync.addDir(hostDirOf(p.target));
  },
  keptNothing: () => true,
  async finish() {},
};
