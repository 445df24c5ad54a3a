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
  /** Float64Array view: per target (in `targets` order) the four TargetCounts numbers; survives the thread. */
  counts: SharedArrayBuffer;
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

/** Where a target's counts sit in a lane's counts buffer: four numbers each. */
export const COUNT_FIELDS = ['iterations', 'accepted', 'refused', 'ms'] as const;

export function countsBuffer(targets: readonly TargetName[]): SharedArrayBuffer {
  return new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * COUNT_FIELDS.length * targets.length);
}

export function readCounts(buffer: SharedArrayBuffer, targets: readonly TargetName[]): Record<TargetName, TargetCounts> {
  const view = new Float64Array(buffer);
  const out = {} as Record<TargetName, TargetCounts>;
  targets.forEach((t, k) => {
    const at = k * COUNT_FIELDS.length;
    out[t] = { iterations: view[at], accepted: view[at + 1], refused: view[at + 2], ms: view[at + 3] };
  });
  return out;
}

export type LaneMessage =
  | { type: 'ready' }
  | { type: 'finding'; iteration: number; target: TargetName; how: string; reason: string; bytes: Uint8Array };


/**
 * Which target input `i` of a run goes to: each run of `targets.length` inputs visits every target once,
 * rotated by one from the run before, so lanes taking every jobs-th input still see every target.
 */
export function targetOf(targets: readonly TargetName[], i: number): TargetName {
  const n = targets.length;
  return targets[(i + Math.floor(i / n)) % n];
}

async function lane(config: LaneConfig): Promise<void> {
  const port = parentPort!;
  const shared = new Int32Array(config.shared);
  const counts = new Float64Array(config.counts);
  const corpus = await loadCorpus(config.seedFiles, NOWHERE);
  const file = path.join(config.dir, 'input.deb');
  port.postMessage({ type: 'ready' } satisfies LaneMessage);
  for (let i = config.start; i < config.maxIterations && Atomics.load(shared, STOP) === 0; i += config.stride) {
    const name = targetOf(config.targets, i);
    const target = TARGETS[name];
    const at = config.targets.indexOf(name) * COUNT_FIELDS.length;
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
    counts[at]++;
    counts[at + 3] += performance.now() - t0;
    if (outcome.kind === 'ok') counts[at + 1]++;
    else if (outcome.kind === 'refused') counts[at + 2]++;
    else port.postMessage({ type: 'finding', iteration: i, target: name, how: input.how, reason: outcome.reason, bytes: input.bytes } satisfies LaneMessage);
  }
}

if (parentPort) {
  lane(workerData as LaneConfig).catch((err: unknown) => {
    // A failure outside any input (the seeds could not be loaded): the parent sees the thread die.
    throw err;
  });
}
