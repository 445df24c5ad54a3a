import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Findings } from './findings';
import { DEFAULT_TARGETS, type TargetName } from './targets';
import { loadCorpus, type Corpus } from './corpus';
import { NOWHERE } from './dictionary';
import { Rng } from './rng';
import { TARGETS } from './targets';
import { countsBuffer, CURRENT, readCounts, STOP, targetOf, type LaneConfig, type LaneMessage, type TargetCounts } from './worker';

/**
 * A fuzzing run over the in-process targets: `jobs` worker threads (lanes), each taking every jobs-th
 * input number, watched from here. A lane whose input runs longer than `hangMs` is a hang: its input is
 * saved and the thread terminated; a thread that dies (an uncaught exception, an unhandled rejection, a
 * stream 'error' nobody listened to, running out of memory) is a crash of the input it was running.
 * Either way the lane starts again after that input. The run ends at the wall-clock budget or the
 * iteration cap, whichever comes first.
 */
export interface CampaignOptions {
  seed: number;
  seedFiles: string[];
  targets?: TargetName[];
  /** Input numbers 0 .. maxIterations-1 at most (default: no cap). */
  maxIterations?: number;
  wallMs: number;
  jobs?: number;
  hangMs?: number;
  /** Lanes' scratch folders go here. */
  workDir: string;
  findings: Findings;
  /** Stop early once this many inputs gave findings (a run that crashes on everything learns nothing more). */
  maxFindings?: number;
  log?: (line: string) => void;
}

export interface CampaignReport {
  seed: number;
  targets: TargetName[];
  counts: Record<TargetName, TargetCounts>;
  elapsedMs: number;
}

const WORKER = path.join(__dirname, 'worker.js');
const TICK_MS = 200;

function emptyCounts(targets: readonly TargetName[]): Record<TargetName, TargetCounts> {
  const out = {} as Record<TargetName, TargetCounts>;
  for (const t of targets) out[t] = { iterations: 0, accepted: 0, refused: 0, ms: 0 };
  return out;
}

function addCounts(into: Record<TargetName, TargetCounts>, from: Record<TargetName, TargetCounts>): void {
  for (const [t, c] of Object.entries(from) as Array<[TargetName, TargetCounts]>) {
    const d = into[t];
    d.iterations += c.iterations;
    d.accepted += c.accepted;
    d.refused += c.refused;
    d.ms += c.ms;
  }
}

/** How one thread of a lane ended, and where the lane goes on from. */
interface ThreadEnd {
  next: number;
  finished: boolean;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const targets = options.targets ?? [...DEFAULT_TARGETS];
  const jobs = Math.max(1, options.jobs ?? 1);
  const hangMs = options.hangMs ?? 10_000;
  const maxIterations = options.maxIterations ?? Number.MAX_SAFE_INTEGER;
  const maxFindings = options.maxFindings ?? 100;
  const counts = emptyCounts(targets);
  const started = Date.now();
  const deadline = started + options.wallMs;
  let stopping = false;
  const live = new Set<Int32Array>();
  const stopAll = (): void => {
    stopping = true;
    for (const s of live) Atomics.store(s, STOP, 1);
  };
  const timer = setTimeout(stopAll, options.wallMs);

  // A thread that hung or died cannot hand over its input: it is made again here from its number.
  let corpus: Promise<Corpus> | undefined;
  const remake = async (i: number): Promise<{ bytes: Buffer; how: string } | undefined> => {
    try {
      corpus ??= loadCorpus(options.seedFiles, NOWHERE);
      return await TARGETS[targetOf(targets, i)].generate(Rng.forIteration(options.seed, i), await corpus);
    } catch {
      return undefined;
    }
  };

  const runThread = (lane: number, start: number): Promise<ThreadEnd> =>
    new Promise((resolve, reject) => {
      const dir = path.join(options.workDir, `lane-${lane}`);
      const shared = new SharedArrayBuffer(8);
      const view = new Int32Array(shared);
      Atomics.store(view, CURRENT, -1);
      if (stopping) Atomics.store(view, STOP, 1);
      live.add(view);
      const laneCounts = countsBuffer(targets);
      const config: LaneConfig = { seedFiles: options.seedFiles, dir, targets, seed: options.seed, start, stride: jobs, maxIterations, shared, counts: laneCounts };
      const worker = new Worker(WORKER, { workerData: config, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
      let lostOne: TargetName | undefined;
      let ready = false;
      let ended = false;
      let seen = -1;
      let seenSince = Date.now();
      const pending: Array<Promise<unknown>> = [];

      const end = (result: ThreadEnd | Error): void => {
        if (ended) return;
        ended = true;
        clearInterval(watch);
        live.delete(view);
        const ran = readCounts(laneCounts, targets);
        // The input that was lost counts as run.
        if (lostOne) ran[lostOne].iterations++;
        addCounts(counts, ran);
        void Promise.all(pending).then(() => (result instanceof Error ? reject(result) : resolve(result)), reject);
      };
      const lost = (kind: 'hang' | 'thread died', reason: string): void => {
        const at = Atomics.load(view, CURRENT);
        if (at < 0) {
          end(new Error(`fuzz: lane ${lane} ${kind === 'hang' ? 'stopped responding' : 'died'} outside any input (a fuzzer bug): ${reason}`));
          return;
        }
        const target = targetOf(targets, at);
        pending.push(
          remake(at).then((input) => options.findings.add({ kind, target, iteration: at, how: input?.how ?? 'see --replay-iteration', reason }, input?.bytes)),
        );
        lostOne = target;
        end({ next: at + jobs, finished: false });
      };

      const watch = setInterval(() => {
        const at = Atomics.load(view, CURRENT);
        if (at !== seen) {
          seen = at;
          seenSince = Date.now();
          return;
        }
        if (at >= 0 && Date.now() - seenSince > hangMs) {
          lost('hang', `no result after ${Math.round((Date.now() - seenSince) / 1000)} s (watchdog ${hangMs} ms)`);
          void worker.terminate();
        }
      }, TICK_MS);

      worker.on('message', (m: LaneMessage) => {
        switch (m.type) {
          case 'ready':
            ready = true;
            return;
          case 'finding':
            pending.push(options.findings.add({ kind: 'crash', target: m.target, iteration: m.iteration, how: m.how, reason: m.reason }, m.bytes));
            if (options.findings.total + 1 >= maxFindings) stopAll();
            return;
        }
      });
      worker.on('error', (err: Error) => {
        if (!ready) {
          end(new Error(`fuzz: lane ${lane} could not start: ${err.stack ?? err.message}`));
          return;
        }
        lost('thread died', err.stack ?? String(err));
      });
      worker.on('exit', () => end({ next: maxIterations, finished: true }));
    });

  const lane = async (k: number): Promise<void> => {
    await fsp.mkdir(path.join(options.workDir, `lane-${k}`), { recursive: true });
    let start = k;
    for (;;) {
      const r = await runThread(k, start);
      if (r.finished || stopping || r.next >= maxIterations || Date.now() >= deadline) return;
      options.log?.(`lane ${k}: restarting after input ${r.next - jobs}`);
      start = r.next;
    }
  };

  try {
    await Promise.all(Array.from({ length: jobs }, (_, k) => lane(k)));
  } finally {
    clearTimeout(timer);
    stopAll();
  }
  return { seed: options.seed, targets, counts, elapsedMs: Date.now() - started };
}

/** `n` inputs in `ms` milliseconds, as inputs per second. */
export function rate(c: TargetCounts): number {
  return c.ms > 0 ? (c.iterations * 1000) / c.ms : 0;
}
