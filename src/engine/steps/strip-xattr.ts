import { hostDirOf, type HostPath } from '../../fs/host-path';
import { hostPath, type RootPath } from '../../fs/rootpath';
import { removeXattrIfPresent, restoreXattr } from '../../fs/xattr';
import type { StepKind } from './step-kind';

/**
 * One extended attribute removed from an entry, its value journaled first so that undo can put it back:
 * overlay reconcile taking `overlay.opaque` off a folder that hides nothing any more, or `overlay.origin`
 * off an entry whose origin names an inode of a replaced lower layer (--strip-origin). The attribute
 * change reaches the disk with the syncfs before the commit record, like every step's.
 */
export interface StripXattrStep {
  kind: 'strip-xattr';
  path: RootPath;
  name: string;
  /** The value, hex. */
  value: string;
}

export interface StripXattrPayload {
  target: HostPath;
  name: string;
  value: string;
}

export const stripXattrStep: StepKind<'strip-xattr', StripXattrStep, StripXattrPayload> = {
  kind: 'strip-xattr',
  concretize: (s, { root }) => ({ target: hostPath(root, s.path), name: s.name, value: s.value }),
  async run(p, { hooks, sync }) {
    await hooks.step?.('xattr:remove', { path: p.target });
    await removeXattrIfPresent(p.target, p.name);
    sync.addDir(hostDirOf(p.target));
  },
  async undo(p, { hooks, sync }) {
    await hooks.step?.('xattr:restore', { path: p.target });
    await restoreXattr(p.target, p.name, Buffer.from(p.value, 'hex'));
    sync.addDir(hostDirOf(p.target));
  },
  keptNothing: () => true,
  async finish() {},
};
