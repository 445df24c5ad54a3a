import type { PlaceFileStep } from './steps/place-file';
import type { PathStep, PlaceFilesRun, PlanStep } from './plan-model';

/**
 * A plan's steps one path step at a time, each run of fresh files (PlaceFilesRun) read as the place-file
 * steps it stands for. Iterable again and again (a check reads the steps twice); the steps of a run are
 * made as they are reached and are garbage once read, so the plan itself never holds them.
 */
export function stepsOf(steps: readonly PlanStep[]): Iterable<PathStep> {
  return { [Symbol.iterator]: () => expand(steps) };
}

function* expand(steps: readonly PlanStep[]): Generator<PathStep> {
  for (const s of steps) {
    if (s.kind === 'place-files') yield* runSteps(s);
    else yield s;
  }
}

/** The place-file steps a run stands for, in order. */
export function* runSteps(run: PlaceFilesRun): Generator<PlaceFileStep> {
  for (let i = run.from; i < run.to; i++) {
    const entry = run.entries.at(i);
    yield { kind: 'place-file', path: entry.path, entry, aside: 'none' };
  }
}

/** How many path steps a plan's steps stand for (what the journal will hold of them). */
export function stepCount(steps: readonly PlanStep[]): number {
  let n = 0;
  for (const s of steps) n += s.kind === 'place-files' ? s.to - s.from : 1;
  return n;
}
