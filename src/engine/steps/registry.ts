import { OvermergeError } from '../../errors';
import { dpkgChangeStep } from './dpkg-change';
import { mkdirStep } from './mkdir';
import { placeFileStep } from './place-file';
import { placeSpecialStep } from './place-special';
import { renameStep } from './rename';
import { runScriptStep } from './run-script';
import { replaceFileStep } from './replace-file';
import { removeStep } from './remove';
import { rmdirStep } from './rmdir';
import { stagingStep } from './staging';
import { stripXattrStep } from './strip-xattr';
import { whiteoutStep } from './whiteout';
import type { AnyStepKind, PlannedOf } from './step-kind';

/** Every kind of journal step overmerge knows. A new kind is a file in this folder and a line here. */
export const BUILTIN_STEPS = [
  stagingStep,
  mkdirStep,
  placeFileStep,
  placeSpecialStep,
  removeStep,
  rmdirStep,
  renameStep,
  dpkgChangeStep,
  runScriptStep,
  whiteoutStep,
  stripXattrStep,
  replaceFileStep,
] as const;

/** A step as the planner and the transaction phases emit it, of any built-in kind. */
export type PlannedStep = PlannedOf<(typeof BUILTIN_STEPS)[number]>;

/**
 * The kinds one engine instance runs, by name: the executor, undo and finish look each journal record's
 * kind up here. A value, not a global, so a test can run the engine with a kind of its own.
 */
export class StepRegistry {
  private readonly kinds = new Map<string, AnyStepKind>();

  constructor(kinds: Iterable<AnyStepKind> = BUILTIN_STEPS) {
    for (const k of kinds) this.register(k);
  }

  register(k: AnyStepKind): this {
    if (this.kinds.has(k.kind)) {
      throw new OvermergeError('E_INTERNAL', `step kind '${k.kind}' is registered twice`, { op: 'register step kind' });
    }
    this.kinds.set(k.kind, k);
    return this;
  }

  /** The kind of a journal record; a record of a kind this overmerge does not know cannot be undone by it. */
  get(kind: string): AnyStepKind {
    const k = this.kinds.get(kind);
    if (k === undefined) {
      throw new OvermergeError('E_UNFINISHED', `the journal holds a step of kind '${kind}', which this overmerge does not know`, {
        op: 'read journal',
        hint: 'run `overmerge recover` with the overmerge version that began the transaction',
      });
    }
    return k;
  }
}
