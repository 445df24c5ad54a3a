import { removeTree } from '../../fs/entries';
import type { HostPath } from '../../fs/host-path';
import type { StepKind } from './step-kind';

/**
 * The transaction's staging folder. It is created right after this step is journaled and before the
 * archives are read, so that undo (a failed or interrupted transaction) and finish (a committed one)
 * both remove it, whatever it holds by then.
 */
export interface StagingStep {
  kind: 'staging';
  dir: HostPath;
}

export interface StagingPayload {
  dir: HostPath;
}

export const stagingStep: StepKind<'staging', StagingStep, StagingPayload> = {
  kind: 'staging',
  syncsItself: true,
  finishAlongside: true,
  concretize: (s) => ({ dir: s.dir }),
  async run() {
    // Nothing: the folder is made by the stage phase, which must exist before any archive is staged.
  },
  undo: (p) => removeTree(p.dir),
  finish: (p) => removeTree(p.dir),
};
