import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadCorpus } from './corpus';
import { NOWHERE } from './dictionary';
import { Rng } from './rng';
import { TARGETS, type TargetName } from './targets';
import { classify, type Outcome } from './verdict';

/**
 * One fuzzing lane in a worker thread: makes inputs i = start, start + stride, ... and runs them, until
 * the parent raises the stop flag or the iteration cap is reached. It publishes the number of the input
 * it is running in shared memory, so that the parent can make that input again (and save it) when this
 * thread hangs or dies; crashes it survives it reports itself, with the input.
 */
export interface LaneConfig {
  seedFiles: string[];
  /** The lane's own folder: inputs of targets that read files are written there. */
  dir: string;
  targets: TargetName[];
  seed: number;
  start: number;
  stride: number;
  /** Iterations are numbered from 0 across lanes; none at or past this. */
  maxIterations: number;
  /** Int32Array view: [CURRENT] the input being run (-1 between inputs), [STOP] non-zero to stop. */
  shared: SharedArrayBuffer;
}

export const CURRENT = 0;
export const STOP = 1;

export interface TargetCounts {
  iterations: number;
  accepted: number;
  refused: number;
  /** Time spent making and running its inputs, ms. */
  ms: number;
}

export type LaneMessage =
  | { type: 'ready' }
  | { type: 'finding'; iteration: number; target: TargetName; how: string; reason: string; bytes: Uint8Array }
  | { type: 'counts'; counts: Partial<Record<TargetName, TargetCounts>>; next: number }
  | { type: 'done' };


/** Which target input `i` of a run goes to. */
export function targetOf(targets: readonly TargetName[], i: number): TargetName {
  return targets[i % targets.length];
}

async function lane(config: LaneConfig): Promise<void> {
  const port = parentPort!;
  const shared = new Int32Array(config.shared);
  const corpus = await loadCorpus(config.seedFiles, NOWHERE);
  const file = path.join(config.dir, 'input.deb');
  const counts: Partial<Record<TargetName, TargetCounts>> = {};
  port.postMessage({ type: 'ready' } satisfies LaneMessage);
  let lastReport = Date.now();
  let i = config.start;
  for (; i < config.maxIterations && Atomics.load(shared, STOP) === 0; i += config.stride) {
    const name = targetOf(config.targets, i);
    const target = TARGETS[name];
    const c = (counts[name] ??= { iterations: 0, accepted: 0, refused: 0, ms: 0 });
    const t0 = performance.now();
    const rng = Rng.forIteration(config.seed, i);
    const input = await target.generate(rng, corpus);
    if (target.needsFile) await fsp.writeFile(file, input.bytes);
    Atomics.store(shared, CURRENT, i);
    let outcome: Outcome = { kind: 'ok' };
    try {
      await target.run({ bytes: input.bytes, file }, rng);
    } catch (err) {
      outcome = classify(err);
    }
    // Errors a run leaves behind (a stream failing after its reader gave up) surface here, still
    // attributed to this input.
    await new Promise((resolve) => setImmediate(resolve));
    Atomics.store(shared, CURRENT, -1);
    c.iterations++;
    c.ms += performance.now() - t0;
    if (outcome.kind === 'ok') c.accepted++;
    else if (outcome.kind === 'refused') c.refused++;
    else port.postMessage({ type: 'finding', iteration: i, target: name, how: input.how, reason: outcome.reason, bytes: input.bytes } satisfies LaneMessage);
    if (Date.now() - lastReport > 500) {
      port.postMessage({ type: 'counts', counts, next: i + config.stride } satisfies LaneMessage);
      lastReport = Date.now();
    }
  }
  port.postMessage({ type: 'counts', counts, next: i } satisfies LaneMessage);
  port.postMessage({ type: 'done' } satisfies LaneMessage);
}

if (parentPort) {
  lane(workerData as LaneConfig).catch((err: unknown) => {
    // A failure outside any input (the seeds could not be loaded): the parent sees the thread die.
    throw err;
  });
}
