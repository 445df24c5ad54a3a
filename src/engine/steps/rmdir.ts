import { rmdirIfEmpty } from '../../fs/entries';
import { hostPath, type RootPath } from '../../fs/rootpath';
import type { HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/**
 * A directory that goes once it is empty. Nothing happens before the commit: the backups of its children
 * live in it until they are let go of, so it is removed at finish (and kept if something new is in it,
 * as dpkg keeps a directory that is not empty).
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
  concretize: (s, { root }) => ({ target: hostPath(root, s.path) }),
  async run() {},
  async undo() {},
  finish: (p) => rmdirIfEmpty(p.target),
};
